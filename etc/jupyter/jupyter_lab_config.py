# JupyterLab settings for the course (read from the working directory by `./lab open`).
# Read by `./lab open` (--config). Offline and local: no update checks, no news feed, no extension manager reaching out.
c = get_config()  # noqa: F821  (provided by Jupyter when it loads this file)
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = 8888
c.ServerApp.open_browser = False
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
