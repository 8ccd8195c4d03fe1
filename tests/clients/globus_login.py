"""Run a `globus` command that signs in (login --no-local-server, session update, ...),
sign in through the service's real HTML login form and consent page over HTTP, and pipe
the authorization code back to the CLI.

usage: globus_login.py USERNAME PASSWORD -- globus ARGS...
Prints the CLI's output; exits with its exit code.
"""
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import requests


class Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "fields": {}})
        elif tag in ("input", "button") and self.forms and a.get("name"):
            if tag == "button" and a.get("value") != "allow":
                return
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")


def form_of(html):
    p = Forms()
    p.feed(html)
    assert p.forms, "no form on the page:\n" + html
    return p.forms[0]


def sign_in(url, username, password):
    s = requests.Session()
    r = s.get(url, allow_redirects=False)
    assert r.status_code == 200, (r.status_code, r.text)
    base = url.split("/v2/")[0]
    page = r.text
    if 'name="password"' in page:
        f = form_of(page)
        f["fields"].update(username=username, password=password)
        r = s.post(base + f["action"], data=f["fields"], allow_redirects=False)
        assert r.status_code == 200, (r.status_code, r.text)
        page = r.text
    f = form_of(page)
    f["fields"]["decision"] = "allow"
    r = s.post(base + f["action"], data=f["fields"], allow_redirects=False)
    assert r.status_code in (302, 303), (r.status_code, r.text)
    m = re.search(r"[?&]code=([^&]+)", r.headers["Location"])
    assert m, r.headers["Location"]
    return m.group(1)


def main():
    user, password = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # The prompt for the code ends without a newline: read raw bytes, not lines.
    buf = b""
    url = None
    while True:
        chunk = os.read(p.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        text = buf.decode(errors="replace")
        m = re.search(r"(https?://\S+/v2/oauth2/authorize\?\S+)", text)
        if m and "Authorization Code" in text[m.end():]:
            url = m.group(1)
            break
    if url is None:
        p.wait()
        sys.stdout.write(buf.decode(errors="replace"))
        sys.exit(p.returncode or 1)
    code = sign_in(url, user, password)
    out, _ = p.communicate((code + "\n").encode(), timeout=120)
    sys.stdout.write(buf.decode(errors="replace") + out.decode(errors="replace"))
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
