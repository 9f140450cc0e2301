"""The commented env.yaml that `envspec init` writes."""

from __future__ import annotations

import re

_TEMPLATE = """\
# yaml-language-server: $schema=env.schema.json
# envspec environment. Validate with `envspec validate`, see the resolved versions with
# `envspec explain`, write the Dockerfile with `envspec render -o build/`.
name: {name}

base:
  os: ubuntu22.04          # ubuntu16.04 … ubuntu24.04, debian11 … debian13
  cuda: "12.4"             # quote versions; omit for a CPU-only image
  flavor: runtime          # base | runtime | devel (devel has nvcc)
  cudnn: false

apt:
  # mirror: tuna           # aliyun | tuna | ustc | any URL
  packages: [git, curl]

# compilers:
#   gcc: 11                # checked against the CUDA version's nvcc

python:
  version: "3.10"
  provider: system         # system (OS python + venv) | conda
  pip:
    packages:
      - numpy
    # requirements: [requirements.txt]
    # mirror: tuna

env:
  HF_HOME: /workspace/.cache/huggingface

workdir: /workspace
user:                      # the container runs as this user, not root
  name: dev
  uid: 1000
  gid: 1000

runtime:                   # defaults for `envspec run`
  gpus: all                # all | none | 2 | [0, 1] | ["GPU-…"]
  shm_size: 8g
  ports: []
"""


def starter_spec(folder_name: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", folder_name.lower()).strip("-") or "my-env"
    return _TEMPLATE.format(name=name)
