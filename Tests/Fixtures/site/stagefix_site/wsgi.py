# The WSGI entry point gunicorn serves the rig site through (scripts/rig), as a deployed site's would be.
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stagefix_site.settings")
application = get_wsgi_application()
