"""labkit.workshop's recipe: what the Debian 13 base is made from, and how a learner's container is started."""
from __future__ import annotations

from labkit import workshop


def test_the_base_holds_the_lessons_packages_optional_ones_included():
    debs = workshop.debs()
    assert {"docker.io", "containerd", "runc", "busybox-static", "python3-venv"} <= set(debs)
    assert "docker-cli" in debs and not any(d.endswith("?") for d in debs)   # Debian 13 has it
    assert not {"chromium", "qemu-system-x86", "debootstrap"} & set(debs)   # the tests' own stay out


def test_the_venv_holds_pyprojects_dependencies_and_a_hubs_server():
    packages = workshop.python_packages()
    assert "jupyterlab>=4.0" in packages and "pytest>=8.0" in packages
    assert any(p.startswith("jupyterhub") for p in packages)


def test_the_base_key_follows_what_the_base_is_made_from(monkeypatch):
    monkeypatch.setattr(workshop, "pinned_versions", lambda: {"busybox-static": "1:1.35.0-4"})
    key = workshop.base_key()
    assert key == workshop.base_key() and len(key) == 16
    monkeypatch.setattr(workshop, "EXTRA_DEBS", [*workshop.EXTRA_DEBS, "strace"])
    assert workshop.base_key() != key
