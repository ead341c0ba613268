# The magic-link login of the TDD book: POST an email, get a one-time link by mail, follow it to log in.
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from .models import Token


@csrf_exempt
def send_login_email(request):
    # GET too, so a playbook's http_get can submit the form in a smoke test.
    email = request.POST.get("email") or request.GET.get("email", "")
    if "@" not in email:
        return HttpResponseBadRequest("an email address is required\n")
    token = Token.objects.create(email=email)
    url = request.build_absolute_uri(reverse("login") + "?token=" + token.uid + "&next=/whoami/")
    message = EmailMessage(
        subject="Your login link for Superlists",
        body="Use this link to log in:\n\n%s\n\nIt works once.\n" % url,
        from_email="noreply@superlists.rig.test",
        to=[email],
        headers={"X-Superlists-Notification-Type": "login"},
    )
    message.send()
    return HttpResponse("check your email\n", content_type="text/plain")


def login(request):
    token = Token.objects.filter(uid=request.GET.get("token", "")).first()
    if token is None:
        return HttpResponse("invalid or used token\n", content_type="text/plain", status=403)
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=token.email, defaults={"email": token.email})
    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    token.delete()
    return HttpResponse("logged in as %s\n" % user.email, content_type="text/plain")
