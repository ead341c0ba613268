#!/usr/bin/env python
# manage.py for the rig's throwaway Django staging site (copied by scripts/rig into ~stagefix/sites/NAME/).
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stagefix_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
