# InterLink for Swift: the release binary (Swift stdlib linked in statically)
# on a Debian 12 base that scripts/image.sh makes locally with
# `debootstrap --variant=minbase` and `docker import` (no registry needed).
# The base carries libcurl, CA certificates, the docker CLI (Provider: docker)
# and the Slurm client tools with munge (Provider: slurm), and a non-root
# user `interlink` (10001). Build with `make image`.
ARG BASE=interlink-base:bookworm
FROM ${BASE}
COPY interlink /usr/local/bin/interlink
COPY InterLinkConfig.yaml /etc/interlink/InterLinkConfig.yaml
ENV INTERLINKCONFIGPATH=/etc/interlink/InterLinkConfig.yaml
USER 10001:10001
WORKDIR /var/lib/interlink
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/interlink"]
CMD ["serve"]
