#!/usr/bin/env bash
echo "install.sh: not written yet" >&2; exit 1
