"""The JSON Schema editors use for playbooks agrees with stagefix: every shipped playbook and the
README's example validate, and the mistakes stagefix rejects are rejected here too."""
import glob
import json
import os

import jsonschema
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALIDATOR = jsonschema.Draft202012Validator(json.load(open(os.path.join(ROOT, "schema", "playbook.schema.json"))))


def errors(document):
    return [error.message for error in VALIDATOR.iter_errors(document)]


def test_the_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(VALIDATOR.schema)


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml"))))
def test_shipped_playbooks_validate(path):
    assert errors(yaml.safe_load(open(path))) == []


def test_the_readmes_example_validates():
    readme = open(os.path.join(ROOT, "README.md")).read()
    block = "#" + readme.split("```yaml\n# every step kind")[1].split("```")[0]
    assert errors(yaml.safe_load(block)) == []


@pytest.mark.parametrize("text", [
    "steps:\n  - flsh: {}\n",
    "steps: []\n",
    "name: x\n",
    "steps:\n  - flush: {}\n    exec: ls\n",
    "steps:\n  - wait_for_email: {subject: x}\n",
    "steps:\n  - http_get: {url: http://x/, status: nine}\n",
    "vars:\n  host: x\nsteps:\n  - flush: {}\n",
])
def test_mistakes_are_rejected(text):
    assert errors(yaml.safe_load(text)) != []
