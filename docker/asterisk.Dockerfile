# Asterisk 22 from Debian unstable (Debian 12 ships none). Config is rendered by the callcenter
# image into the shared volume; this image only runs it.
FROM debian:sid-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends asterisk asterisk-modules \
 && rm -rf /var/lib/apt/lists/*
CMD ["asterisk", "-f", "-U", "root", "-C", "/var/lib/ngalam112/ngalam112/etc/asterisk.conf"]
