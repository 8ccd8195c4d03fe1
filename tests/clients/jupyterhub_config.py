# JupyterHub signing in with GlobusOAuthenticator at its default settings, pointed at
# the built-in Globus service instead of auth.globus.org. Only the URLs, the client and
# the ports come from the test (environment); everything else is the authenticator's
# default: client_secret_post at the token endpoint, PKCE, the scopes
# openid profile and Transfer, preferred_username as the user name.
import os

c = get_config()  # noqa: F821
env = os.environ
globus = env["GANTRY_GLOBUS_URL"].rstrip("/")

c.JupyterHub.authenticator_class = "globus"
c.GlobusOAuthenticator.client_id = env["GANTRY_HUB_CLIENT_ID"]
c.GlobusOAuthenticator.client_secret = env["GANTRY_HUB_CLIENT_SECRET"]
c.GlobusOAuthenticator.oauth_callback_url = f"http://127.0.0.1:{env['GANTRY_HUB_PORT']}/hub/oauth_callback"
c.GlobusOAuthenticator.authorize_url = f"{globus}/v2/oauth2/authorize"
c.GlobusOAuthenticator.token_url = f"{globus}/v2/oauth2/token"
c.GlobusOAuthenticator.userdata_url = f"{globus}/v2/oauth2/userinfo"
c.GlobusOAuthenticator.revocation_url = f"{globus}/v2/oauth2/token/revoke"
c.GlobusOAuthenticator.allow_all = True
c.Authenticator.enable_auth_state = True  # needs JUPYTERHUB_CRYPT_KEY

# Loopback only, on the ports the test chose; state in the test's directory.
c.JupyterHub.bind_url = f"http://127.0.0.1:{env['GANTRY_HUB_PORT']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{env['GANTRY_HUB_API_PORT']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['GANTRY_PROXY_API_PORT']}"
c.JupyterHub.db_url = f"sqlite:///{env['GANTRY_HUB_DIR']}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{env['GANTRY_HUB_DIR']}/cookie_secret"
c.ConfigurableHTTPProxy.pid_file = f"{env['GANTRY_HUB_DIR']}/proxy.pid"
c.JupyterHub.cleanup_servers = True

# The test reads auth_state through the REST API as a service.
c.JupyterHub.services = [{"name": "gantry-test", "api_token": env["GANTRY_HUB_SERVICE_TOKEN"]}]
c.JupyterHub.load_roles = [{"name": "gantry-test", "services": ["gantry-test"],
                            "scopes": ["admin:auth_state", "read:users", "list:users"]}]
