# InterLink for Swift: the release binary (Swift stdlib linked in statically)
# on a Debian 12 base that scripts/image.sh makes locally with
# `debootstrap --variant=minbase` and `docker import` (no registry needed).
# The base carries libcurl, CA certificates, the docker CLI (Provider: docker)
# and the Slurm client tools with munge (Provider: slurm; mount the site's
# slurm.conf and munge key), and a non-root user `interlink` (10001).
# Build with `make image`; few instructions, because each one copies the
# whole root filesystem on a vfs-backed daemon.
ARG BASE=interlink-base:bookworm
FROM ${BASE}
# rootfs/ holds usr/local/bin/interlink (and interlink-probe, the Docker provider's
# probe helper) and etc/interlink/InterLinkConfig.yaml.
COPY rootfs/ /
ARG CONTENT=unknown
LABEL org.opencontainers.image.title="interlink" interlink.content="${CONTENT}"
ENV INTERLINKCONFIGPATH=/etc/interlink/InterLinkConfig.yaml
USER 10001:10001
WORKDIR /var/lib/interlink
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/interlink"]
CMD ["serve"]
