"""How long until a running server serves what an alias was just moved to.

    python bench/alias_move.py [--moves 20] [--refresh 0.25]

In a temporary project: register churn:1 and churn:2 (the churn-like classifier of
``bench/feedback.py``), point ``churn@champion`` at 1 and ``churn@challenger`` at 2 and
create endpoint ``follower`` following the champion; start ``modelport serve`` on
127.0.0.1 with ``server.policy_refresh_s = refresh``. Then, ``moves`` times, move the
alias from *this* process (another process as far as the server is concerned: it learns
of the move only by polling revisions) and time from the commit to the first prediction
answered by the new version (polled every 10 ms). Then as many moves through the server's
own ``PUT /v1/models/churn/aliases/champion`` (the server refreshes its plane before
answering), timed from the request to the first prediction answered by the new version.
Reports p50/p90/max of both against ``refresh``; writes ``bench/results/alias_move.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from feedback import INSTANCE, train
from machine import machine_info
from servers import Server, free_port

BENCH = Path(__file__).resolve().parent
console = Console()


def prepare(folder: Path, refresh: float) -> None:
    from modelport.config import DEFAULT_TOML, Settings
    from modelport.registry.aliases import AliasStore
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registration, Registry
    from modelport.store.db import Database

    model_path, reference_path = train(folder)
    toml = DEFAULT_TOML.replace("[monitoring]\n", "[monitoring]\nenabled = false\n")
    toml = toml.replace("[server]\n", f"[server]\npolicy_refresh_s = {refresh}\n")
    (folder / "modelport.toml").write_text(toml)
    settings = Settings.load(folder / "modelport.toml")
    db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
    try:
        registry = Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
        for _ in range(2):
            registry.register(
                Registration(
                    name="churn",
                    source=str(model_path),
                    flavor="sklearn",
                    reference=reference_path,
                    target="churned",
                )
            )
        endpoints = EndpointStore(db, registry)
        AliasStore(endpoints).set("churn", "champion", 1, actor="bench")
        AliasStore(endpoints).set("churn", "challenger", 2, actor="bench")
        endpoints.create("follower", "churn", None, alias="champion")
    finally:
        db.dispose()


def served(client: httpx.Client) -> int:
    response = client.post("/v1/endpoints/follower/predict", json={"instances": [INSTANCE]})
    response.raise_for_status()
    version: int = response.json()["version"]
    return version


def figures(delays: list[float]) -> dict[str, float]:
    ordered = sorted(delays)
    return {
        "p50_s": round(statistics.median(ordered), 3),
        "p90_s": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "max_s": round(ordered[-1], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--refresh", type=float, default=0.25)
    args = parser.parse_args()

    from modelport.config import Settings
    from modelport.registry.aliases import AliasStore
    from modelport.registry.artifacts import ArtifactStore
    from modelport.registry.endpoints import EndpointStore
    from modelport.registry.service import Registry
    from modelport.store.db import Database

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prepare(folder, args.refresh)
        port = free_port()
        server = Server(
            "modelport",
            [sys.executable, "-m", "modelport.cli.main", "serve", "--port", str(port)],
            port,
            folder / "server.log",
            cwd=folder,
            env={**os.environ},
        )
        body = json.dumps({"instances": [INSTANCE]}).encode()
        settings = Settings.load(folder / "modelport.toml")
        db = Database(f"sqlite:///{folder / settings.store.home / 'modelport.db'}")
        aliases = AliasStore(
            EndpointStore(
                db, Registry(db, ArtifactStore(folder / settings.store.home / "artifacts"))
            )
        )
        delays: list[float] = []
        through_server: list[float] = []
        with server, httpx.Client(base_url=server.base_url, timeout=10) as client:
            server.wait_ready("/v1/endpoints/follower/predict", body)
            target = 1
            for _ in range(args.moves):
                target = 2 if target == 1 else 1
                aliases.set("churn", "champion", target, actor="bench")
                committed = time.perf_counter()
                while served(client) != target:
                    time.sleep(0.01)
                delays.append(time.perf_counter() - committed)
            for _ in range(args.moves):
                target = 2 if target == 1 else 1
                asked = time.perf_counter()
                moved = client.put("/v1/models/churn/aliases/champion", json={"version": target})
                moved.raise_for_status()
                while served(client) != target:
                    time.sleep(0.01)
                through_server.append(time.perf_counter() - asked)
        db.dispose()

    result: dict[str, object] = {
        "moves": args.moves,
        "policy_refresh_s": args.refresh,
        **figures(delays),
        "through_server": figures(through_server),
        "machine": machine_info(),
    }
    table = Table("moved by", "moves", "policy_refresh_s", "p50 s", "p90 s", "max s")
    for label, found in [
        ("another process", figures(delays)),
        ("the server", figures(through_server)),
    ]:
        table.add_row(
            label,
            str(args.moves),
            f"{args.refresh:g}",
            *(f"{found[k]:.3f}" for k in ("p50_s", "p90_s", "max_s")),
        )
    console.print(table)
    out = BENCH / "results" / "alias_move.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
