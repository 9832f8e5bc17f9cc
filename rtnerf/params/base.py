"""Parameter objects: frozen, keyword-only dataclasses validated on construction.

Every block (and every model that needs a design point) has one params class derived from
:class:`Params`. It is the single source of truth: the RTL, the golden model, the performance
model and the testbench are all built from the same object. Params load from YAML files that carry
a ``version:`` key; unknown keys are errors.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Self

import yaml

from ..errors import ConfigError, user_key

__all__ = [
    "CONFIG_VERSION",
    "BlockParams",
    "ConfigError",
    "Params",
    "check_choice",
    "check_int",
    "read_yaml",
]

#: The only configuration file version this release reads.
CONFIG_VERSION = 1


def check_int(
    name: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    power_of_two: bool = False,
) -> None:
    """Check that ``value`` is an integer in range, raising with a message naming ``name``.

    Parameters
    ----------
    name : str
        Field name used in the message.
    value : object
        The value to check.
    minimum, maximum : int, optional
        Inclusive bounds.
    power_of_two : bool
        Also require a power of two.

    Raises
    ------
    TypeError
        If ``value`` is not an ``int`` (``bool`` is rejected too).
    ValueError
        If ``value`` is out of range or not a power of two when one is required.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an integer, not {value!r}")
    bad = (minimum is not None and value < minimum) or (maximum is not None and value > maximum)
    if power_of_two and (value <= 0 or value & (value - 1)):
        bad = True
    if not bad:
        return
    what = "a power of two" if power_of_two else "an integer"
    if minimum is not None and maximum is not None:
        bounds = f" from {minimum} to {maximum}"
    elif minimum is not None:
        bounds = f" >= {minimum}"
    elif maximum is not None:
        bounds = f" <= {maximum}"
    else:
        bounds = ""
    raise ValueError(f"`{name}` must be {what}{bounds}, not {value!r}")


def check_choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    """Check that ``value`` is one of ``choices``, raising with a message naming ``name``.

    Raises
    ------
    ValueError
        If ``value`` is not in ``choices``.
    """
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {allowed}, not {value!r}")


def _check_finite(node: Any, where: str) -> None:
    if isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"`{where or 'the document'}` must be a finite number, not {node!r}")
    if isinstance(node, dict):
        for key, value in node.items():
            _check_finite(value, f"{where}.{user_key(key)}" if where else user_key(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_finite(value, f"{where}[{i}]")


def read_yaml(path: str | Path, what: str = "config") -> Any:
    """Read a YAML file written by a user: UTF-8, plain data, finite numbers.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file is, for messages ("config", "study").

    Returns
    -------
    object
        The document (``None`` for an empty file).

    Raises
    ------
    ConfigError
        Naming the file: it cannot be read, is not UTF-8, is not valid YAML (the first line of
        the parser's message), or holds ``.inf`` or ``.nan`` (naming the key).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a UTF-8 text file (byte {data[exc.start]:#04x} at offset {exc.start})"
        ) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    try:
        _check_finite(doc, "")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: {what} nested too deeply (or refers to itself)") from None
    return doc


class _MovedKeyError(ConfigError):
    """A configuration sets a former field, ``old``, now at the dotted path ``new``."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"`{user_key(old)}` moved to `{new}`")
        self.old, self.new = old, new


@dataclasses.dataclass(frozen=True, kw_only=True)
class Params:
    """Base class of all params dataclasses.

    Subclasses are ``@dataclass(frozen=True, kw_only=True)``, set the class variable ``kind`` to
    their registry name, and validate their fields in ``__post_init__`` with :func:`check_int`
    and :func:`check_choice`. Derived values are properties, never fields.
    """

    kind: ClassVar[str] = ""
    #: Fields that are params themselves (a mapping in YAML), by name. A mapping's missing
    #: fields take the values of the field's default (which may differ from the nested class's
    #: own defaults: the lookup unit's decoder is not the decoder block's default).
    nested: ClassVar[dict[str, type[Params]]] = {}
    #: Former fields, by name: the dotted path they moved to (``{"dim": "decoder.columns"}``);
    #: a configuration that still sets one is refused with a message naming both.
    moved: ClassVar[dict[str, str]] = {}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the fields a configuration may set."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, like :func:`dataclasses.replace`, into nested params too.

        The change of a :attr:`nested` field may be a mapping of changes to it, in turn
        (``engine.replace(units=4, unit={"lanes": 2, "decoder": {"columns": 16}})``), so that
        the nested fields keep their other values and the result is validated as a whole.
        """
        for name, value in changes.items():
            if name in self.nested and isinstance(value, dict):
                changes[name] = getattr(self, name).replace(**value)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain mapping (no ``version``, no ``kind``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, mapping: dict[str, Any]) -> Self:
        """Build params from a mapping of field values.

        ``version`` and ``kind`` keys are accepted and checked; any other unknown key is an error.

        Raises
        ------
        ConfigError
            On an unknown key, a wrong ``version`` or a ``kind`` for another block.
        TypeError, ValueError
            From field validation.
        """
        if not isinstance(mapping, dict):
            raise ConfigError(f"{cls.kind} params must be a mapping, not {type(mapping).__name__}")
        values = dict(mapping)
        version = values.pop("version", CONFIG_VERSION)
        if version != CONFIG_VERSION:
            raise ConfigError(f"`version` must be {CONFIG_VERSION}, not {version!r}")
        kind = values.pop("kind", cls.kind)
        if kind != cls.kind:
            raise ConfigError(f"`kind` must be {cls.kind!r} for these params, not {kind!r}")
        allowed = cls.field_names()
        unknown = sorted(set(values) - set(allowed), key=str)
        for key in unknown:
            if key in cls.moved:
                raise _MovedKeyError(key, cls.moved[key])
        if unknown:
            raise ConfigError(
                f"unknown key `{user_key(unknown[0])}` in {cls.kind} params; allowed: "
                f"{', '.join(allowed)}"
            )
        factories = {f.name: f.default_factory for f in dataclasses.fields(cls)}
        for name, sub in cls.nested.items():
            if name in values and not isinstance(values[name], Params):
                mapping = values[name]
                if isinstance(mapping, dict) and factories[name] is not dataclasses.MISSING:
                    default = factories[name]()
                    if default != sub():
                        mapping = {**default.to_dict(), **mapping}
                try:
                    values[name] = sub.from_dict(mapping)
                except _MovedKeyError as exc:
                    raise _MovedKeyError(f"{name}.{exc.old}", f"{name}.{exc.new}") from None
                except (ConfigError, TypeError, ValueError) as exc:
                    raise type(exc)(f"in `{name}`: {exc}") from None
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Self:
        """Load params from a YAML file; the file must have a ``version:`` key.

        Raises
        ------
        ConfigError
            If the file is missing, is not UTF-8 or valid YAML (:func:`read_yaml`), lacks
            ``version`` or has unknown keys.
            Field errors are re-raised as :class:`ConfigError` prefixed with the file name.
        """
        path = Path(path)
        mapping = read_yaml(path)
        if not isinstance(mapping, dict) or "version" not in mapping:
            raise ConfigError(f"{path}: a config must be a mapping with a `version:` key")
        try:
            return cls.from_dict(mapping)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def to_yaml(self) -> str:
        """Return a YAML document that :meth:`from_yaml` reads back to an equal object."""
        doc = {"version": CONFIG_VERSION, "kind": self.kind, **self.to_dict()}
        return yaml.safe_dump(doc, sort_keys=False)

    def to_json(self) -> str:
        """Return the fields as canonical JSON (sorted keys), with ``kind``."""
        return json.dumps({"kind": self.kind, **self.to_dict()}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def digest(self) -> str:
        """A short stable hash of the kind and field values, for cache keys and run names."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]


#: The package the block layers hang off (``rtnerf``).
_PACKAGE = __package__.rpartition(".")[0]


@dataclasses.dataclass(frozen=True, kw_only=True)
class BlockParams(Params):
    """Params of an RTL block: the one object that hands out every piece of the block.

    In the spirit of :class:`amaranth.lib.crc.Parameters` (``compute()`` and ``create()``). A
    block has one name, :attr:`kind`, in every layer, so its pieces are found from it and
    imported only when asked for: loading params needs neither Amaranth, cocotb nor numba.

    Members
    -------
    create() : wiring.Component
        The Amaranth component, ``rtnerf.rtl.<kind>.<Kind>(self)`` (``<Kind>`` is ``kind`` in
        CamelCase: ``AdderSearchTree``).
    signature : wiring.Signature
        Its ports, from the RTL module's ``signature(params)`` (the one the component uses), so
        no component is built.
    golden : module or None
        The bit-exact golden model, ``rtnerf.models.golden.<kind>``; None for a block checked
        against another model (the memory port: the testbench's AXI DRAM model).
    cases : module
        The directed and random cases shared by the model tests and the testbench,
        ``rtnerf.models.cases.<kind>``.
    testbench : str
        Name of the cocotb testbench module, ``rtnerf.sim.tb.<kind>``; a class attribute.
    """

    #: Dotted name of the cocotb testbench module (a name: the module imports cocotb).
    testbench: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.testbench = f"{_PACKAGE}.sim.tb.{cls.kind}"

    def _module(self, layer: str) -> ModuleType:
        return importlib.import_module(f"{_PACKAGE}.{layer}.{self.kind}")

    def create(self) -> Any:
        """The Amaranth component of this design point (imports Amaranth)."""
        name = "".join(word.capitalize() for word in self.kind.split("_"))
        return getattr(self._module("rtl"), name)(self)

    @property
    def signature(self) -> Any:
        """The component's ports, without building it (imports Amaranth).

        ``rtnerf.rtl.<kind>.signature(self)``, which the component's constructor uses too.
        """
        return self._module("rtl").signature(self)

    @property
    def golden(self) -> ModuleType | None:
        """The golden-model module (imports numba)."""
        return self._module("models.golden")

    @property
    def cases(self) -> ModuleType:
        """The module of directed and random cases."""
        return self._module("models.cases")
