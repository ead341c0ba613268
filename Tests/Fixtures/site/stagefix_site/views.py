# Views of the rig site: a fixed home page and /whoami/, the login proof for create_session.
from django.http import HttpResponse


def home(request):
    return HttpResponse("stagefix rig site\n", content_type="text/plain")


def whoami(request):
    if request.user.is_authenticated:
        return HttpResponse(f"logged in as {request.user.email}\n", content_type="text/plain")
    return HttpResponse("anonymous\n", content_type="text/plain")
