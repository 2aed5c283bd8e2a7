"""Which images a tenant may name: never an image id or a prefix of one (the Engine looks a bare
hex word up as an id prefix: anyone's image), never CRANE's builds, scanner or suite images;
in a service's image and in a Dockerfile's FROM and COPY --from alike."""

import pytest

from crane_shared.image_refs import base_images, dockerfile_problems, image_ref_problem, repository


@pytest.mark.parametrize(
    "ref",
    [
        "3f2a9c1b7d4e",  # an id prefix
        "a",  # so is this, when no image is called a:latest
        "sha256:3f2a9c1b7d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4",
        "crane-build/s1-victim-1-web:0123456789abcdef",
        "docker.io/crane-build/s1-victim-1-web:0123456789abcdef",  # the same local image
        "crane-scanner:0011223344556677",
        "crane/suite:dev",
        "docker.io/library/crane/traefik:local".replace("library/", ""),
        "localhost/crane/nats:local",  # Podman's name for it
        "CRANE/suite:dev",
    ],
)
def test_ids_and_cranes_own_images_are_refused(ref):
    assert image_ref_problem(ref)


@pytest.mark.parametrize(
    "ref",
    [
        "nginx",
        "nginx:1.27",
        "cafe:latest",  # a hex word with a tag is looked up by name only
        "ghcr.io/acme/crane-build:1",
        "registry.example:5000/crane/suite:dev",  # another registry's repository
        "nginx@sha256:3f2a9c1b7d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4",
        "crane/hello:local",
        "crane-test-http:abc",
    ],
)
def test_ordinary_references_pass(ref):
    assert image_ref_problem(ref) is None


def test_repository_drops_tag_digest_and_the_default_registry():
    assert repository("docker.io/library/nginx:1@sha256:ab") == "nginx"
    assert repository("localhost:5000/a/b:1") == "localhost:5000/a/b"


DOCKERFILE = """# syntax=docker/dockerfile:1
# escape=\\
ARG BASE=crane/hello:local
ARG TAG
FROM --platform=linux/amd64 ${BASE} AS build
RUN echo hi \\
    && echo FROM crane/suite:dev
COPY --from=build /a /b
FROM scratch
COPY --chown=1:1 --from=crane-build/s1-x-web:1 /secret /secret
FROM build
COPY --from=0 /a /c
FROM python:${TAG:-3.11}
"""


def test_a_dockerfiles_images_are_read_as_docker_fills_them():
    found = [(b.line, b.instruction, b.reference) for b in base_images(DOCKERFILE, {})]
    assert found == [
        (5, "FROM", "crane/hello:local"),
        (10, "COPY --from", "crane-build/s1-x-web:1"),
        (13, "FROM", "python:3.11"),
    ]
    assert [b.reference for b in base_images(DOCKERFILE, {"BASE": "crane/suite:dev", "TAG": "3.12"})][::2] == [
        "crane/suite:dev",
        "python:3.12",
    ]


def test_a_dockerfile_naming_another_tenants_build_or_an_id_is_refused_naming_the_line():
    assert dockerfile_problems(DOCKERFILE, {}) == [
        "Dockerfile line 10: COPY --from 'crane-build/s1-x-web:1' is one of CRANE's own images (its builds, its "
        "scanner or the suite's): name your own image, or upload a build context (crane/hello:local is the demo "
        "image to build on)"
    ]
    assert dockerfile_problems("ARG ID=3f2a9c1b\nFROM $ID\n", {})[0].startswith("Dockerfile line 2: FROM '3f2a9c1b'")
    assert dockerfile_problems("FROM crane/hello:local\nRUN true\n", {}) == []
