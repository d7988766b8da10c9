FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends gdal-bin make && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ogcsdl
COPY . .
RUN scripts/setup.sh
ENV OGCSDL_SERVER__HOST=0.0.0.0
EXPOSE 5000
CMD [".venv/bin/ogcsdl", "serve"]
