"""Code that runs INSIDE pycsw's interpreter (the catalogue environment), never in the
suite's: the hardened WSGI entry point and the EO repository mappings. gunicorn gets this
directory on its ``--pythonpath``; nothing here may import ``ogcsdl``."""
