"""Asterisk ``.conf`` files -> ordered categories of ordered variables.

Shared by ``iax.conf`` and ``extensions.conf``. Follows Asterisk's ``main/config.c``:

* ``[name](!)`` templates, ``[name](base1,base2)`` inheritance (the bases' variables are
  copied first, as they are at that moment), ``[name](+)`` appends to an earlier category;
* ``=``, ``=>`` (object flag) and ``+=`` (concatenated onto the last same-named variable);
* ``#include``/``#tryinclude`` relative to the including file (then to the top file's
  folder, where Asterisk looks), globs allowed, loops reported; ``#exec`` refused unless
  the caller explicitly allows it.

An include can name any file, so reading is bounded (see :mod:`pbxedge.config.textfile`):
only regular text files are read, all the files of one load together hold at most
``PBXEDGE_CONFIG_MAX_BYTES`` (16 MiB), at most :data:`MAX_INCLUDED_FILES` inclusions are
made (files that each include the next one twice would make 2**n) and they nest at most
:data:`MAX_INCLUDE_DEPTH` deep. Messages quote only short excerpts of names and values,
never a line of a file, whose content may be anyone's secret.

Keys repeat and order matters (``allow=``, ``secret=``, ``register =>``), so a category is
an ordered list of variables, each remembering its ``file:line``. Content problems become
diagnostics; only an unreadable top-level file raises :class:`ConfigError`.
"""

from __future__ import annotations

import glob
import os
import shlex
import subprocess
from dataclasses import dataclass, field

from pbxedge.config.diagnostics import ConfigError, Diagnostic, Origin, Severity, excerpt
from pbxedge.config.grammar import (
    Assignment,
    AssignOp,
    CategoryHeader,
    Directive,
    LineSyntaxError,
    parse_line,
)
from pbxedge.config.lexer import MAX_NESTED_COMMENTS, CommentStripper, split_physical_lines
from pbxedge.config.textfile import (
    MAX_CONFIG_BYTES_ENV,
    NotReadable,
    TooLarge,
    max_config_bytes,
    read_config_text,
)

__all__ = [
    "MAX_INCLUDED_FILES",
    "MAX_INCLUDE_DEPTH",
    "Category",
    "ConfigFile",
    "Variable",
    "load_config",
    "parse_config_text",
]

# A #exec'd command that hangs must not hang the load.
_EXEC_TIMEOUT_S = 10.0

# Room for a file per account in a big setup, yet files that each include the next one
# twice (2**n inclusions) stop after about two seconds.
MAX_INCLUDED_FILES = 10_000
# Each level costs a few stack frames; this stays far below Python's recursion limit.
MAX_INCLUDE_DEPTH = 64
# Paths in messages: long enough for any real one, bounded for a made-up one.
_PATH_CHARS = 200


# Frozen because a category shares the variables it inherits with its bases: thousands
# of sections made from one template hold the template's lines only once.
@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    value: str
    origin: Origin
    is_object: bool = False


@dataclass(slots=True)
class Category:
    name: str
    origin: Origin
    variables: list[Variable] = field(default_factory=list)
    is_template: bool = False
    bases: list[str] = field(default_factory=list)
    # How many leading variables are still the bases' own (shared) objects.
    inherited: int = 0

    def get(self, name: str) -> Variable | None:
        """The last variable called *name* (case-insensitive, like Asterisk)."""
        wanted = name.lower()
        for variable in reversed(self.variables):
            if variable.name.lower() == wanted:
                return variable
        return None

    def get_all(self, name: str) -> list[Variable]:
        """Every variable called *name*, in file order."""
        wanted = name.lower()
        return [v for v in self.variables if v.name.lower() == wanted]


@dataclass(slots=True)
class ConfigFile:
    path: str
    categories: list[Category] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def sections(self) -> list[Category]:
        """Non-template categories in file order."""
        return [c for c in self.categories if not c.is_template]


def load_config(
    path: str | os.PathLike[str], *, allow_exec: bool = False, max_bytes: int | None = None
) -> ConfigFile:
    """Read *path* and everything it includes, at most *max_bytes* in all (default:
    :func:`~pbxedge.config.textfile.max_config_bytes`).

    Raises :class:`ConfigError` only when *path* itself cannot be read.
    """
    name = os.fspath(path)
    limit = _limit(max_bytes, name)
    try:
        text, size = read_config_text(name, limit)
    except OSError as exc:
        raise ConfigError([Diagnostic(
            Severity.ERROR, f"cannot read config file {_path(name)}: {exc.strerror or exc}")]) from exc
    except NotReadable as exc:
        raise ConfigError(
            [Diagnostic(Severity.ERROR, f"config file {_path(name)} {_refusal(exc, limit, 0)}")]
        ) from exc
    loader = _Loader(ConfigFile(name), allow_exec=allow_exec, limit=limit, bytes_read=size)
    loader.load_text(text, name, os.path.dirname(name) or ".", real_path=os.path.realpath(name))
    return loader.config


def parse_config_text(text: str, filename: str = "<string>", *, max_bytes: int | None = None) -> ConfigFile:
    """Parse *text* as if read from *filename*; includes resolve against the cwd and may
    read *max_bytes* in all (as for :func:`load_config`)."""
    loader = _Loader(ConfigFile(filename), allow_exec=False, limit=_limit(max_bytes, filename))
    loader.load_text(text, filename, os.getcwd(), real_path=None)
    return loader.config


def _limit(max_bytes: int | None, name: str) -> int:
    if max_bytes is not None:
        return max_bytes
    try:
        return max_config_bytes()
    except ValueError as exc:
        raise ConfigError([Diagnostic(Severity.ERROR, f"cannot read config file {_path(name)}: {exc}")]) from exc


def _path(path: str) -> str:
    return excerpt(path, _PATH_CHARS)


def _refusal(exc: NotReadable, limit: int, already_read: int) -> str:
    """Why a file is refused, as the end of a sentence that starts with its name."""
    if not isinstance(exc, TooLarge):
        return str(exc)
    read = f" ({already_read} bytes were read before it)" if already_read else ""
    return (f"is too large: {exc.size} bytes, and a config with its includes may hold "
            f"{limit} bytes{read}; {MAX_CONFIG_BYTES_ENV} sets the limit")


class _Loader:
    def __init__(self, config: ConfigFile, *, allow_exec: bool, limit: int, bytes_read: int = 0) -> None:
        self.config = config
        self.allow_exec = allow_exec
        self.limit = limit
        self.bytes_read = bytes_read
        self.files_included = 0
        # Set once MAX_INCLUDED_FILES was reported: later includes are skipped silently.
        self.includes_exhausted = False
        self.current: Category | None = None
        # First category of each name: Asterisk's lookup for (+) and inheritance.
        self.first_by_name: dict[str, Category] = {}
        # Real paths of the files being read, outermost first, to spot include loops.
        self.include_stack: list[str] = []
        # The top file's folder (Asterisk's config directory); None until a file is read.
        self.config_dir: str | None = None

    def report(self, severity: Severity, message: str, origin: Origin | None) -> None:
        self.config.diagnostics.append(Diagnostic(severity, message, origin))

    def load_text(self, text: str, filename: str, base_dir: str, *, real_path: str | None) -> None:
        if real_path is not None:
            self.include_stack.append(real_path)
        if self.config_dir is None:
            self.config_dir = base_dir
        stripper = CommentStripper()
        for line in stripper.strip(split_physical_lines(text)):
            origin = Origin(filename, line.number)
            try:
                parsed = parse_line(line.text)
            except LineSyntaxError as exc:
                # A header error changes which section the next lines belong to, so it is an
                # error; a stray line is only noise, as in Asterisk.
                severity = Severity.ERROR if line.text.startswith("[") else Severity.WARNING
                # The line is not quoted: file:line finds it, and a file included by
                # mistake (/etc/shadow) must not be printed line by line.
                self.report(severity, str(exc), origin)
                continue
            if isinstance(parsed, Assignment):
                self.assign(parsed, origin)
            elif isinstance(parsed, CategoryHeader):
                self.open_category(parsed, origin)
            else:
                self.directive(parsed, origin, base_dir)
        if stripper.open_at:
            opened = stripper.open_at[-1]
            self.report(
                Severity.WARNING,
                f"Unterminated comment detected beginning on line {opened} (';--' without '--;')",
                Origin(filename, opened),
            )
        for number in stripper.too_deep_at:
            self.report(
                Severity.WARNING,
                f"block comments nested deeper than {MAX_NESTED_COMMENTS} levels; this ';--' is ignored",
                Origin(filename, number),
            )
        if real_path is not None:
            self.include_stack.pop()

    def open_category(self, header: CategoryHeader, origin: Origin) -> None:
        if "+" in header.options:
            existing = self.first_by_name.get(header.name)
            if existing is not None:
                self.current = existing
                return
            self.report(
                Severity.ERROR,
                f"Category addition requested, but category '{excerpt(header.name)}' does not exist",
                origin,
            )
        category = Category(header.name, origin)
        for option in header.options:
            if option == "!":
                category.is_template = True
            elif option == "+":
                continue
            elif not option:
                self.report(Severity.WARNING, f"empty option in header of [{excerpt(header.name)}]", origin)
            else:
                base = self.first_by_name.get(option)
                if base is None:
                    self.report(
                        Severity.ERROR,
                        f"Inheritance requested, but category '{excerpt(option)}' does not exist",
                        origin,
                    )
                    continue
                category.bases.append(option)
                category.variables.extend(base.variables)
        category.inherited = len(category.variables)
        self.config.categories.append(category)
        self.first_by_name.setdefault(category.name, category)
        self.current = category

    def assign(self, assignment: Assignment, origin: Origin) -> None:
        if self.current is None:
            # As in Asterisk the option is not named: a file included by mistake must not
            # have its lines printed, and file:line finds it.
            self.report(
                Severity.ERROR, "parse error: No category context (add a [section] above this line)", origin
            )
            return
        if not assignment.name:
            self.report(Severity.WARNING, "missing option name before '='", origin)
            return
        if assignment.op is AssignOp.APPEND:
            # config.c matches the name case-sensitively here, unlike lookups.
            variables = self.current.variables
            index = next(
                (i for i in range(len(variables) - 1, -1, -1) if variables[i].name == assignment.name),
                None,
            )
            if index is not None:
                previous = variables[index]
                value = (previous.value + assignment.value).strip()
                variables[index] = Variable(previous.name, value, previous.origin, previous.is_object)
                self.current.inherited = min(self.current.inherited, index)
                return
            assignment = Assignment(assignment.name, assignment.op, assignment.value.strip())
        self.current.variables.append(
            Variable(assignment.name, assignment.value, origin, assignment.op is AssignOp.OBJECT)
        )

    def directive(self, directive: Directive, origin: Origin, base_dir: str) -> None:
        if directive.name in ("include", "tryinclude"):
            self.include(directive, origin, base_dir, optional=directive.name == "tryinclude")
        elif directive.name == "exec":
            self.exec_include(directive, origin, base_dir)
        else:
            self.report(Severity.WARNING, f"Unknown directive '#{excerpt(directive.name)}'", origin)

    def include(self, directive: Directive, origin: Origin, base_dir: str, *, optional: bool) -> None:
        if not directive.argument:
            self.report(Severity.ERROR, f"#{directive.name} needs a file name", origin)
            return
        argument = os.path.expanduser(directive.argument)
        paths = self.include_paths(argument, base_dir)
        if glob.has_magic(argument) and not paths and not optional:
            self.report(Severity.WARNING, f"#include: no file matches '{excerpt(directive.argument)}'", origin)
        for path in paths:
            self.include_file(path, origin, optional=optional)

    def include_paths(self, argument: str, base_dir: str) -> list[str]:
        """The files an include names: relative to the including file, else, as in Asterisk,
        to the top file's folder (so a nested include written for Asterisk still works)."""
        folders = [base_dir]
        if self.config_dir is not None and self.config_dir != base_dir:
            folders.append(self.config_dir)
        for folder in folders:
            pattern = os.path.join(folder, argument)
            if glob.has_magic(pattern):
                found = sorted(glob.glob(pattern))
            else:
                found = [pattern] if os.path.exists(pattern) else []
            if found:
                return found
        # Nothing exists: name the first place, so the error says where it was looked for.
        return [] if glob.has_magic(argument) else [os.path.join(base_dir, argument)]

    def include_file(self, path: str, origin: Origin, *, optional: bool) -> None:
        real = os.path.realpath(path)
        if real in self.include_stack:
            chain = " -> ".join(_path(os.path.basename(p)) for p in [*self.include_stack, real])
            self.report(Severity.ERROR, f"include loop: {chain}; not included again", origin)
            return
        if len(self.include_stack) > MAX_INCLUDE_DEPTH:
            self.report(Severity.ERROR, f"includes nested more than {MAX_INCLUDE_DEPTH} deep; "
                        f"{_path(path)} not included", origin)
            return
        if self.files_included >= MAX_INCLUDED_FILES:
            if not self.includes_exhausted:
                self.includes_exhausted = True
                self.report(Severity.ERROR, f"more than {MAX_INCLUDED_FILES} files included in one "
                            f"load (does a file include another several times?); {_path(path)} "
                            "and every later include are skipped", origin)
            return
        self.files_included += 1
        try:
            text, size = read_config_text(path, self.limit - self.bytes_read)
        except OSError as exc:
            if not optional:
                reason = exc.strerror or str(exc)
                self.report(Severity.ERROR, f"cannot read included file {_path(path)}: {reason}", origin)
            return
        except NotReadable as exc:
            # Even #tryinclude reports this: the file is there, but cannot be what was meant.
            self.report(Severity.ERROR, f"included file {_path(path)} "
                        f"{_refusal(exc, self.limit, self.bytes_read)}; not included", origin)
            return
        self.bytes_read += size
        self.load_text(text, os.path.normpath(path), os.path.dirname(path), real_path=real)

    def exec_include(self, directive: Directive, origin: Origin, base_dir: str) -> None:
        if not self.allow_exec:
            self.report(
                Severity.ERROR,
                f"#exec '{excerpt(directive.argument)}' refused: config files may not run commands "
                "(Asterisk needs execincludes=yes for this, and pbxedge does not allow it)",
                origin,
            )
            return
        try:
            argv = shlex.split(directive.argument)
            result = subprocess.run(
                argv, cwd=base_dir, capture_output=True, timeout=_EXEC_TIMEOUT_S, check=False
            )
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            self.report(Severity.ERROR, f"#exec '{excerpt(directive.argument)}' failed: {exc}", origin)
            return
        if result.returncode != 0:
            self.report(
                Severity.WARNING,
                f"#exec '{excerpt(directive.argument)}' exited with status {result.returncode}",
                origin,
            )
        output = result.stdout.decode("utf-8", errors="replace")
        self.load_text(output, f"#exec {directive.argument}", base_dir, real_path=None)
