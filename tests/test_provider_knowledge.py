"""What each provider is lives in `avatar_core/provider/` (one module per provider): no other
code asks which provider it is. Read from the source, not imported: a comparison with a
provider's name, a table keyed by it, a catalogue key built from it (f"provider_{name}"),
or a provider's own settings fields (its keys, its base URL) read outside `provider/`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from avatar_core.config import Settings
from avatar_core.provider.base import PageTexts, Provider, ProviderPaths
from avatar_core.provider.choice import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
NAMES = frozenset(provider.name for provider in PROVIDERS)
# a provider's own fields; "base_url" is every client's and every job's too
FIELDS = frozenset(
    name
    for provider in PROVIDERS
    for name in (*provider.key_fields, provider.base_field)
    if name != "base_url"
)
# the provider's own package, and the simulator, which plays the providers' side
EXEMPT = (ROOT / "avatar_core" / "provider", ROOT / "avatar_core" / "simulator")


def _named(node: ast.AST) -> bool:
    """A provider's name as a literal, or a collection of literals holding one."""
    if isinstance(node, ast.Constant):
        return node.value in NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_named(item) for item in node.elts)
    return False


def provider_branches(source: str) -> list[str]:
    """Where `source` asks which provider it is, each as "line: what"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(map(_named, [node.left, *node.comparators])):
            found.append(f"{node.lineno}: compares with a provider's name")
        elif isinstance(node, ast.Dict) and sum(k is not None and _named(k) for k in node.keys) > 1:
            found.append(f"{node.lineno}: a table keyed by provider names")  # not a "demo" flag
        elif isinstance(node, ast.JoinedStr) and any(
            isinstance(part, ast.Constant) and str(part.value).endswith("provider_")
            for part in node.values
        ):
            found.append(f"{node.lineno}: a catalogue key built from a provider's name")
        elif isinstance(node, ast.Attribute) and node.attr in FIELDS:
            found.append(f"{node.lineno}: reads the provider's own field {node.attr}")
        elif isinstance(node, ast.Match) and any(
            isinstance(case.pattern, ast.MatchValue) and _named(case.pattern.value)
            for case in node.cases
        ):
            found.append(f"{node.lineno}: matches on a provider's name")
    return found


def _sources() -> list[Path]:
    paths = [*sorted((ROOT / "avatar_core").rglob("*.py")), *sorted((ROOT / "ui").rglob("*.py"))]
    paths.append(ROOT / "app.py")
    return [p for p in paths if not any(p.is_relative_to(folder) for folder in EXEMPT)]


def test_nothing_outside_provider_asks_which_provider_it_is():
    found = {
        str(path.relative_to(ROOT)): branches
        for path in _sources()
        if (branches := provider_branches(path.read_text()))
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        'if settings.provider == "kling":\n    pass',
        'kling = studio.provider_name in ("kling",)',
        'line = page_text(f"provider_{studio.provider_name}")',
        'LABELS = {"cometapi": "CometAPI", "demo": "demo"}',
        "secret = settings.kling_secret_key",
        'match name:\n    case "demo":\n        pass',
    ],
    ids=["compare", "in a tuple", "catalogue key", "table", "own field", "match"],
)
def test_each_way_of_asking_which_provider_it_is_is_found(source):
    assert len(provider_branches(source)) == 1


def test_asking_what_a_provider_can_do_is_not_asking_which_it_is():
    source = (
        "if studio.provider_kind.simulated:\n    host = provider.host(client.base_url)\n"
        'plan = {"mode": "std", "demo": studio.demo}'  # a job's demo flag, not a provider
    )
    assert provider_branches(source) == []


class _RecipeGateway(Provider):
    """The "Add a gateway" recipe's module (docs/architecture.md), not registered."""

    name, label = "avatarhub", "AvatarHub"
    paths = ProviderPaths(
        create="/hub/v1/videos/avatar/image2video",
        queries=("/hub/v1/videos/avatar/image2video/{id}",),
        tts="/hub/v1/audio/tts",
    )
    key_setting, base_setting = "AVATARHUB_KEY", "AVATARHUB_BASE_URL"
    default_base_url = "https://api.avatarhub.example"
    key_fields, base_field = ("avatarhub_key",), "avatarhub_base_url"
    page = PageTexts(name="page:provider_avatarhub")


def test_a_new_gateway_unset_adds_nothing_to_the_settings_and_speaks_to_its_default_address():
    # A gateway whose variables are not set must leave the settings as Settings() has them
    # (a newcomer following the recipe found `Settings() == from_env({})` broken otherwise).
    hub = _RecipeGateway()
    assert hub.read_settings({}) == {}
    assert hub.profile(Settings()).base_url == "https://api.avatarhub.example"
    told = hub.read_settings({"AVATARHUB_KEY": "k-1", "AVATARHUB_BASE_URL": "http://127.0.0.1:9"})
    assert told["avatarhub_base_url"] == "http://127.0.0.1:9"
    assert told["avatarhub_key"].reveal() == "k-1"
