"""`doit edit`: a local web editor over the project folder's last run (README, "The editor").

Installed as clipforge.editor (like stages/ and state/): it sits above the stages and calls them.

Layout: security (token, cookie, Host, CSRF, CSP, paths), decisions (each edit, written through the
stages' own code and recorded in the state file), builds (one background `doit keep=yes` at a time),
page (the HTML, everything escaped), app (the Starlette routes), command (the doit command).
"""
