FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY callcenter callcenter
COPY asterisk-conf asterisk-conf
COPY ivr-prompts ivr-prompts
RUN pip install --no-cache-dir -e .
ENTRYPOINT ["callcenter", "-c", "/etc/ngalam112/callcenter.toml"]
CMD ["run"]
