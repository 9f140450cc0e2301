"""Building images from one `BuildRequest` (a `ContextTar` and tags).

- `request`: BuildRequest, BuildResult, the Builder protocol, content tags (`image_tag`), the
  proxy build-argument policy, and `build_if_needed`, which skips the builder for an unchanged
  context.
- `builders`: DockerPyBuilder (classic builder, through `envspec.engine`) and CliBuilder
  (BuildKit through the docker CLI).
- `parsers`: the builders' logs → progress events and `BuildError`.

Nothing here imports docker-py: that happens in `envspec.engine`, when the engine is first used.
"""

from envspec.build.builders import CliBuilder, DockerPyBuilder, find_buildkit_cli
from envspec.build.parsers import LOG_TAIL_LINES, ClassicStreamParser, PlainBuildKitParser
from envspec.build.request import (
    PROXY_BUILD_ARGS,
    Builder,
    BuildOutcome,
    BuildRequest,
    BuildResult,
    build_if_needed,
    image_tag,
    proxy_build_args,
)

__all__ = [
    "LOG_TAIL_LINES",
    "PROXY_BUILD_ARGS",
    "BuildOutcome",
    "BuildRequest",
    "BuildResult",
    "Builder",
    "ClassicStreamParser",
    "CliBuilder",
    "DockerPyBuilder",
    "PlainBuildKitParser",
    "build_if_needed",
    "find_buildkit_cli",
    "image_tag",
    "proxy_build_args",
]
