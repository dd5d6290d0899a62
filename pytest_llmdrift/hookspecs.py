"""pytest-llmdrift's own hooks. Implement them in a ``conftest.py`` or a plugin.

Adding a provider from a conftest::

    # conftest.py
    from pytest_llmdrift.providers import ProviderOptions
    from mycompany.llm import GatewayProvider   # implements pytest_llmdrift.providers.Provider

    def pytest_llmdrift_provider_names():
        return ["gateway"]

    def pytest_llmdrift_make_provider(name, options: ProviderOptions):
        if name == "gateway":
            return GatewayProvider(options)
        return None

    def pytest_llmdrift_infer_provider(model):
        return "gateway" if model.startswith("acme-") else None

after which ``pytest --llm-model=gateway:acme-large`` (or just ``acme-large``) works.
An installed package can instead expose a factory ``(ProviderOptions) -> Provider``
in the ``pytest_llmdrift.providers`` entry-point group, named after the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_llmdrift.providers import Provider, ProviderOptions

hookspec = pytest.hookspec


@hookspec
def pytest_llmdrift_provider_names() -> Sequence[str]:
    """Provider names this plugin serves, so ``NAME:model`` specs are accepted and
    listed in error messages. Results of all implementations are combined."""
    raise NotImplementedError


@hookspec(firstresult=True)
def pytest_llmdrift_make_provider(name: str, options: ProviderOptions) -> Provider | None:
    """Make the provider called ``name``, or return None to let another plugin.

    Called once per provider per process, at start-up for the pinned models (so an
    unknown provider is a usage error before any test runs); must not import an SDK
    or open a connection (do that in ``Provider.complete``). A provider may define
    ``validate_model(name)``, raising ValueError for a name it cannot serve. The plugin's own
    implementation makes the built-ins (``openai``, ``anthropic``, ``demo``) and
    those of the ``pytest_llmdrift.providers`` entry-point group.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def pytest_llmdrift_infer_provider(model: str) -> str | None:
    """The provider for an unprefixed model name (``gpt-4o`` -> ``openai``), or None.

    The plugin's own implementation, which runs last, knows ``gpt-*``, ``o1*``,
    ``o3*``, ``o4*``, ``chatgpt-*``, ``text-*``, ``ft:*`` (openai), ``claude-*``
    (anthropic) and
    ``demo-*`` (the built-in demo models).
    """
    raise NotImplementedError
