"""nox sessions for the vai monorepo.

Session names are part of the project's interface (README, CI, issues):

- ``tests``        every package's tests: chains ``tests-data``, ``tests-models``, ``tests-train``
                   (each package alone in its own venv, so an accidental cross-package import fails)
                   and ``tests-papers`` (all four packages in one venv).
- ``tests-data``, ``tests-models``, ``tests-train``, ``tests-papers``  one package each.
- ``demo``         trains TSM-ResNet18 on the built-in synthetic motion dataset, on CPU.
- ``lint``         ruff check + ruff format --check over the repo.
- ``bench``        the benchmarks in ``benchmarks/`` (ratios against same-run baselines).

Venvs are reused when they already exist (``.nox/``), so a second run skips the installs; a first
run on a fresh machine creates and fills them.

torch and torchvision (with their CUDA libraries, about 5.5 GB on x86_64 Linux) are installed once, into
``.nox/_shared-torch-<hash of the specs>``, and every session venv sees them through a ``.pth`` file.
Each venv still gets its own vai packages and their other dependencies, so the isolation above holds,
but five venvs cost one torch on disk instead of five (CI ran out of disk with one torch per venv).
Set ``VAI_NOX_SHARED_TORCH=0`` to install torch into each venv instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = ROOT / "packages"
# torch/torchvision pins that admit the builds available offline here; the packages themselves
# declare open ranges (torch>=2.4), so users elsewhere get whatever their index serves.
TORCH = os.environ.get("VAI_TORCH_SPEC", "torch>=2.4")
TORCHVISION = os.environ.get("VAI_TORCHVISION_SPEC", "torchvision>=0.19")

# torchcodec for vai-data's tests and benchmark (pinned: a release built for a newer torch must not turn CI
# red; where it cannot load, the tests fall back to their stand-in decoders)
TORCHCODEC = os.environ.get("VAI_TORCHCODEC_SPEC", "torchcodec==0.17.0")

SHARE_TORCH = os.environ.get("VAI_NOX_SHARED_TORCH", "1") != "0"
SHARED_TORCH_DIR = (
    ROOT / ".nox" / f"_shared-torch-{hashlib.sha1(f'{TORCH} {TORCHVISION}'.encode()).hexdigest()[:10]}"
)
_COMPLETE = ".vai-complete"

nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests"]

# single-threaded torch in every test process: the CI machine has 2 cores and pytest-xdist is not used
TEST_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
# a passing test's tmp_path is deleted at its teardown, and the whole base folder when the run passes: the
# training tests write checkpoints of up to 376 MB (r(2+1)d-18), which otherwise stay on disk (4 GB per run)
PYTEST_ARGS = [
    "-q",
    "-ra",
    "--timeout=900",
    "-p",
    "no:cacheprovider",
    "-o",
    "tmp_path_retention_policy=failed",
]


def _share_torch(session: nox.Session) -> None:
    """Make torch/torchvision from the one shared install importable in this session's venv.

    The shared folder is filled once (``pip install --target``) and marked complete only after pip
    succeeds, so an interrupted install is redone rather than half-used. A ``.pth`` file in the venv's
    site-packages appends the folder to ``sys.path``: the venv's own packages still come first, and pip
    sees torch as installed, so it does not fetch it again for the packages that require it.
    """
    if not (SHARED_TORCH_DIR / _COMPLETE).exists():
        shutil.rmtree(SHARED_TORCH_DIR, ignore_errors=True)
        session.run_install(
            "python", "-m", "pip", "install", "--quiet", "--target", str(SHARED_TORCH_DIR), TORCH, TORCHVISION
        )
        if (SHARED_TORCH_DIR / "torch").is_dir():  # (not when --no-install skipped the pip run)
            (SHARED_TORCH_DIR / _COMPLETE).write_text(f"{TORCH} {TORCHVISION}\n")
    purelib = session.run_install(
        "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", silent=True
    )
    if purelib is None:  # --no-install / -R on a reused venv: installing is skipped, the .pth is there
        return
    (Path(purelib.strip()) / "vai_shared_torch.pth").write_text(f"{SHARED_TORCH_DIR}\n")


def _install(session: nox.Session, *packages: str, extras: str = "test") -> None:
    """Install vai packages (directory names, optionally ``name[extra]``) plus ``extras`` into the venv.

    The local packages are force-reinstalled without dependencies afterwards, so a reused venv always
    tests the current source tree.
    """
    specs, paths = [], []
    for name in packages:
        base, _, own = name.partition("[")
        wanted = [e for e in (extras, own.rstrip("]")) if e]
        path = PACKAGES / base
        specs.append(f"{path}[{','.join(wanted)}]" if wanted else str(path))
        paths.append(str(path))
    if SHARE_TORCH:
        _share_torch(session)
    else:
        session.install(TORCH, TORCHVISION)
    session.install(*specs)
    session.install("--no-deps", "--force-reinstall", *paths)


def _torchcodec_env(session: nox.Session) -> dict[str, str]:
    """Install torchcodec and lend it PyAV's bundled FFmpeg (``vai-data link-ffmpeg``, first on the loader's
    path, so a system FFmpeg is not used): the environment for processes that should decode with it ({}
    if linking fails, when torchcodec may still find a system FFmpeg)."""
    session.install(TORCHCODEC)
    folder = Path(session.virtualenv.location) / "ffmpeg-from-pyav"
    out = session.run(
        "vai-data", "link-ffmpeg", str(folder), "--print-path", silent=True, success_codes=[0, 1]
    )
    last = (out or "").strip().splitlines()[-1:] or [""]
    if not last[0].startswith(str(folder)):
        session.log(f"torchcodec will use a system FFmpeg if there is one (link-ffmpeg: {last[0]})")
        return {}
    old = os.environ.get("LD_LIBRARY_PATH")
    return {"LD_LIBRARY_PATH": last[0] + (os.pathsep + old if old else "")}


def _package_tests(
    session: nox.Session, name: str, extra_env: Callable[[nox.Session], dict[str, str]] | None = None
) -> None:
    """Install one package and run its tests; ``extra_env(session)``, called after the install, adds to
    the tests' environment."""
    _install(session, name)
    env = {**TEST_ENV, **(extra_env(session) if extra_env else {})}
    session.run(
        "python", "-m", "pytest", str(PACKAGES / name / "tests"), *PYTEST_ARGS, *session.posargs, env=env
    )


@nox.session(name="tests-data")
def tests_data(session: nox.Session) -> None:
    """vai-data alone: its tests must pass without vai-models/vai-train installed. torchcodec joins the
    decoder tests as a third backend (with PyAV's FFmpeg where there is no system one)."""
    _package_tests(session, "vai-data", extra_env=_torchcodec_env)  # (link-ffmpeg is vai-data's command)


@nox.session(name="tests-models")
def tests_models(session: nox.Session) -> None:
    """vai-models alone."""
    _package_tests(session, "vai-models")


@nox.session(name="tests-train")
def tests_train(session: nox.Session) -> None:
    """vai-train alone."""
    _package_tests(session, "vai-train")


@nox.session(name="tests-papers")
def tests_papers(session: nox.Session) -> None:
    """All four packages in one venv; runs vai-papers' tests (configs, demo slice, papers)."""
    _install(session, "vai-data", "vai-models", "vai-train", "vai-papers")
    session.run(
        "python",
        "-m",
        "pytest",
        str(PACKAGES / "vai-papers" / "tests"),
        *PYTEST_ARGS,
        *session.posargs,
        env=TEST_ENV,
    )


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Every package's tests: each package in isolation, then all four together (vai-papers)."""
    for name in ("tests-data", "tests-models", "tests-train", "tests-papers"):
        session.notify(name, posargs=session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Generate the synthetic motion dataset, train TSM-ResNet18 on CPU, print the val top-1."""
    _install(session, "vai-data", "vai-models", "vai-train[plots]", "vai-papers", extras="")
    root = os.environ.get("VAI_EXPERIMENT_ROOT", str(ROOT / "experiments"))
    env = {"VAI_DATA_ROOT": os.environ.get("VAI_DATA_ROOT", str(ROOT / "data")), "VAI_EXPERIMENT_ROOT": root}
    args = ["-D", "synthetic_motion", "-M", "tsm_resnet18", "-E", "demo", "-R", root]
    session.run("vai-train", "train", *args, *session.posargs, env=env)
    session.run("vai-papers", "demo-summary", *args, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check over the whole repository."""
    session.install("ruff==0.17.6")  # pinned: a new ruff release must not turn CI red by itself
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark script; each prints a markdown table of ratios measured in the same run."""
    _install(session, "vai-data[fastjpeg,lmdb]", "vai-models", "vai-train", "vai-papers", extras="")
    env = {"OMP_NUM_THREADS": "1", **_torchcodec_env(session)}  # bench_data times torchcodec where it loads
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs, env=env)
