"""A cProfile dump's own time grouped by package: where a process's CPU goes when no function stands out.

Not part of `make bench` (the leading underscore). SQLAlchemy is split by subpackage (orm, engine, sql...) and our
code by module; a greenlet's switches make cProfile's cumulative times unreliable, its own times much less so.
`python bench/_profile_packages.py FILE [N]`, FILE from `bench/_engine_cpu.py --profile` (/tmp/engine.prof) or
`cProfile.Profile.dump_stats` (session 21).
"""

from __future__ import annotations

import collections
import pstats
import sys


def _group(file: str, name: str) -> str:
    if "site-packages/" in file:
        package = file.split("site-packages/")[1].split("/")[0]
        if package == "sqlalchemy":
            package += "/" + file.split("sqlalchemy/")[1].split("/")[0]
        return package
    if "/tidings/" in file:
        return "tidings/" + "/".join(file.split("/tidings/")[1].split("/")[:2])
    if file == "~":
        return "builtin: " + name[:40]
    return "stdlib: " + file.rsplit("/", 1)[-1]


def main() -> None:
    stats = pstats.Stats(sys.argv[1])
    most = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    own: collections.Counter[str] = collections.Counter()
    for (file, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        own[_group(file, name)] += tottime
    total = sum(own.values())
    print(f"{total:7.2f} s of own time")
    for group, seconds in own.most_common(most):
        print(f"{seconds:7.2f} {100 * seconds / total:5.1f} %  {group}")


if __name__ == "__main__":
    main()
