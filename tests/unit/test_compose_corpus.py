"""A corpus of real-world-shaped compose files (tests/corpus/, written for CRANE in the shape
of well-known public example stacks): how many CRANE accepts, and why it refuses the others.

Each service with ``build:`` gets an uploaded context and each file-based secret or config an
uploaded file, as `crane up` would send them; the app is named after its file, as Compose
names a project after its folder."""

from pathlib import Path

import yaml

from crane_shared.compose import ComposeError, parse_compose
from crane_shared.compose.normalising import normalise

CORPUS = sorted((Path(__file__).parent.parent / "corpus").glob("*.yaml"))
# Refused on purpose, each for a reason a user can act on.
EXPECTED_REFUSALS = {
    "minecraft": "outside the project folder",  # ~/minecraft_data: the uploader's home
    "plex": "host devices are not given to apps",
    "wasmedge-kafka": "the Engine's default runtime",
}


def _uploads(text: str) -> tuple[dict[str, str], dict[str, str]]:
    document = yaml.safe_load(text)
    contexts = {name: "ab" * 32 for name, body in document["services"].items() if "build" in body}
    files = {
        f"{kind[:-1]}.{name}": f"f-{index:032x}"
        for kind in ("secrets", "configs")
        for index, (name, options) in enumerate((document.get(kind) or {}).items())
        if "file" in options
    }
    return contexts, files


def test_the_corpus_is_accepted_but_for_the_files_that_ask_for_what_crane_refuses():
    accepted, refused = [], {}
    for path in CORPUS:
        text = path.read_text()
        contexts, files = _uploads(text)
        try:  # as the API reads it: Docker Compose first, then CRANE
            parse_compose(normalise(text).text, contexts=contexts, files=files, default_name=path.stem)
            accepted.append(path.stem)
        except ComposeError as error:
            refused[path.stem] = str(error)
    print(f"corpus: {len(accepted)} of {len(CORPUS)} accepted; refused: {refused}")
    assert len(CORPUS) >= 20
    assert set(refused) == set(EXPECTED_REFUSALS), refused
    for name, reason in EXPECTED_REFUSALS.items():
        assert reason in refused[name], refused[name]
