# Copyright 2026 The wilor_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Lint: every Python file of the project starts with the licence header."""

import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
HEADER = (REPO / 'test' / 'test_copyright.py').read_text().split('\n\n', 1)[0]
SKIP_DIRS = {'.venv', 'build', 'install', 'log', '.git', 'fixtures'}


def project_python_files():
    """Yield the project's own .py files (not the venv, build trees or fixtures)."""
    for path in sorted(REPO.rglob('*.py')):
        if not SKIP_DIRS.intersection(path.relative_to(REPO).parts):
            yield path


@pytest.mark.linter
@pytest.mark.copyright
def test_every_python_file_has_the_licence_header():
    files = list(project_python_files())
    assert len(files) > 10
    missing = [str(p.relative_to(REPO)) for p in files if not p.read_text().startswith(HEADER)]
    assert not missing, 'files without the licence header:\n' + '\n'.join(missing)


def test_header_is_the_apache_notice():
    assert HEADER.startswith('# Copyright 2026 The wilor_ros Authors')
    assert 'Apache License, Version 2.0' in HEADER
