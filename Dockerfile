# popcert as an OCI image for CI pipelines (docs/install.md):
#   docker build -t popcert:0.1.0 .
#   docker run --rm -v "$PWD:/work" popcert:0.1.0 certify -c run.yaml --quick
# Stage 1 builds the wheel (with the mock NPDB's C kernels); stage 2 installs only that wheel.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY harness/ harness/
COPY mocks/ mocks/
COPY examples/ examples/
# The product's data folders: setup.py bundles them into the wheel under harness/_data.
COPY specs/ specs/
COPY reports/schema/ reports/schema/
COPY reports/templates/ reports/templates/
COPY scenarios/ scenarios/
COPY load/ load/
RUN pip install --no-cache-dir "build>=1.0" "setuptools>=68" \
 && python -m build --no-isolation --wheel --outdir /dist .

FROM python:3.11-slim-bookworm
# Debian tools used with popcert: iptables-save / nft to capture the firewall ruleset the firewall
# suite reads (and iptables-restore --test / nft -c to check it), git for the source tree, openssl
# to check signatures without popcert.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables nftables git openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir "$(ls /tmp/dist/popcert-*.whl)[postgres]" \
 && rm -rf /tmp/dist \
 && useradd --create-home --uid 10001 popcert
USER popcert
WORKDIR /work
ENTRYPOINT ["popcert"]
CMD ["--help"]
