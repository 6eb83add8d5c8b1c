"""The Docket server (``pip install 'docket[server]'``): ``create_app(settings)``."""
