"""``--cf-feedback``: every judged item's verdict written onto the gateway log entries of its
calls, through the Logs API (``gateway/feedback.py``), so the dashboard's log filters and
evaluations show which requests passed which evals.

- Which calls: those this run sent to the gateway (live, record, refresh; never replayed
  ones, which were not logged now), noted with their ``cf-aig-log-id`` as they come back:
  the item's own call (``eval_call: case``), its grader calls (``grader``) and the calls it
  made for the other items of a select-best/max-score row (``row``).
- What: ``feedback`` 1 (passed) / -1 (failed), ``score`` = the item's score x 100, and five
  metadata entries (the gateway keeps five): test id, config, prompt label, provider, call
  kind. Items without a verdict (errors, skips) are not annotated.
- When: once the item is judged, the PATCHes start on the gateway's background loop (the
  item does not wait), bounded and retried by `LogsClient`. At the end of the session the
  process waits for them; failures are counted in the summary, never fail an item.
- Under xdist each worker waits for its own PATCHes in ``pytest_sessionfinish`` (before the
  worker reports it finished) and sends the per-log outcome to the controller in
  ``workeroutput``; the log ids of each item travel with its result. The controller merges
  both, so the summary and ``--cf-output`` rows say which entries were annotated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import concurrent.futures

    from ..gateway.feedback import LogsClient, PatchResult

API_TOKEN_ENV = "CLOUDFLARE_API_TOKEN"  # = gateway.feedback.API_TOKEN_ENV (kept import-free)
API_BASE_ENV = "CF_API_URL"
WORKER_KEY = "cfgateway_feedback"
FEEDBACK_CONCURRENCY = 4

_KEY = pytest.StashKey["Feedback"]()
_CALLS = pytest.StashKey[list["Call"]]()


class Call:
    """One call a test sent through the gateway, as the gateway logged it.

    (A plain class rather than a dataclass, which costs milliseconds to define.)"""

    __slots__ = ("account_id", "gateway_id", "kind", "log_id", "provider")

    def __init__(
        self, log_id: str | None, account_id: str, gateway_id: str, kind: str, provider: str
    ) -> None:
        self.log_id = log_id
        self.account_id = account_id
        self.gateway_id = gateway_id
        self.kind = kind  # case | grader | moderation | row | test
        self.provider = provider


class Feedback:
    """Per-session state of --cf-feedback (in ``config.stash``)."""

    def __init__(self, enabled: bool, sends: bool, token: str, api_base: str, **client: Any):
        self.enabled = enabled
        self.sends = sends  # enabled and the mode sends requests (not replay)
        self._token = token
        self.api_base = api_base
        self._client_options = client
        self._client: LogsClient | None = None
        self._gateway: Any = None  # the Gateway whose background loop runs the PATCHes
        #: (test id, log id, the PATCH running on the background loop)
        self._pending: list[tuple[str, str, concurrent.futures.Future[PatchResult]]] = []
        self.annotated: set[str] = set()
        self.failed: dict[str, tuple[str, str]] = {}  # log id -> (test id, why)
        self.no_log_id = 0  # calls whose answer had no cf-aig-log-id

    def __repr__(self) -> str:
        return f"Feedback(enabled={self.enabled}, sends={self.sends}, api_base={self.api_base!r})"

    # set-up ------------------------------------------------------------------------------

    @classmethod
    def install(cls, config: pytest.Config, runtime: Any) -> Feedback:
        opt = config.option
        enabled = bool(opt.cf_feedback) or _ini_bool(config.getini("cf_feedback"))
        env = runtime.env
        token_env = opt.cf_api_token_env or API_TOKEN_ENV
        token = env.get(token_env) or ""
        if token:
            runtime.secrets.add(token_env, token)
        api_base = opt.cf_api_url or env.get(API_BASE_ENV) or "https://api.cloudflare.com/client/v4"
        from ..gateway.redact import url_secrets

        runtime.secrets.update(url_secrets(api_base, "--cf-api-url"))
        sends = enabled and runtime.settings.mode.value != "replay"
        if sends and not token:
            raise pytest.UsageError(
                f"--cf-feedback / cf_feedback: no Cloudflare API token; set {token_env} (a token "
                "with the 'AI Gateway - Edit' permission) or name another env var with "
                "--cf-api-token-env"
            )
        if sends and not api_base.startswith(("http://", "https://")):
            raise pytest.UsageError(
                f"--cf-api-url / {API_BASE_ENV}: {runtime.secrets.scrub_text(api_base)!r} is "
                "not an http(s) URL; e.g. https://api.cloudflare.com/client/v4"
            )
        feedback = cls(
            enabled,
            sends,
            token,
            api_base,
            max_retries=runtime.settings.max_retries,
            timeout=min(runtime.settings.timeout, 30.0),
            secrets=runtime.secrets,
        )
        config.stash[_KEY] = feedback
        return feedback

    @classmethod
    def get(cls, config: pytest.Config) -> Feedback | None:
        return config.stash.get(_KEY, None)

    def client(self) -> LogsClient:
        if self._client is None:
            from ..gateway.feedback import LogsClient

            self._client = LogsClient(
                self._token, self.api_base, concurrency=FEEDBACK_CONCURRENCY, **self._client_options
            )
        return self._client

    # during the run --------------------------------------------------------------------

    def submit(self, item: pytest.Item, result: Any, gateway: Any) -> None:
        """Start the PATCHes for a judged config item's calls; record their log ids on
        ``result`` (its ``feedback`` list, which the outputs show)."""
        if result.outcome not in ("passed", "failed"):
            item.stash[_CALLS] = []
            return
        score = None
        if isinstance(result.score, int | float):
            score = round(max(0.0, min(1.0, float(result.score))) * 100, 2)
        metadata = {
            "eval_test": result.nodeid,
            "eval_config": result.config,
            "eval_prompt": result.prompt,
            "eval_provider": result.provider,
        }
        sent = self._annotate(item, gateway, result.outcome == "passed", score, metadata)
        result.feedback.extend(sent)

    def submit_test(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """The same for a test that used ``cf_gateway``: its pytest outcome is the verdict
        (no score); ``eval_provider`` is each call's provider."""
        if report.skipped:
            item.stash[_CALLS] = []
            return
        metadata = {"eval_test": item.nodeid, "eval_config": item.nodeid.split("::", 1)[0]}
        self._annotate(item, None, report.passed, None, metadata)

    def _annotate(
        self,
        item: pytest.Item,
        gateway: Any,
        passed: bool,
        score: float | None,
        metadata: dict[str, str],
    ) -> list[dict[str, str]]:
        from ..gateway.feedback import LogAnnotation

        calls = item.stash.get(_CALLS, [])
        item.stash[_CALLS] = []
        if self._gateway is None:
            self._gateway = gateway  # every PATCH runs on this one background loop
        if not calls or self._gateway is None:
            return []
        client = self.client()
        sent = []
        for call in calls:
            if call.log_id is None:
                self.no_log_id += 1
                continue
            annotation = LogAnnotation(
                account_id=call.account_id,
                gateway_id=call.gateway_id,
                log_id=call.log_id,
                feedback=1 if passed else -1,
                score=score,
                metadata={"eval_provider": call.provider, **metadata, "eval_call": call.kind},
            )
            future = self._gateway.submit(client.patch(annotation))
            self._pending.append((item.nodeid, call.log_id, future))
            sent.append({"logId": call.log_id, "call": call.kind})
        return sent

    # at the end --------------------------------------------------------------------------

    def flush(self) -> None:
        """Wait for every PATCH of this process and close the client."""
        pending, self._pending = self._pending, []
        for nodeid, log_id, future in pending:
            try:
                outcome = future.result()
            except Exception as exc:  # a bug or a stopped loop: counted, never raised
                why = f"{type(exc).__name__}: {exc}"
                secrets = self._client_options.get("secrets")
                self.failed[log_id] = (nodeid, secrets.scrub_text(why) if secrets else why)
                continue
            if outcome.ok:
                self.annotated.add(outcome.log_id)
            else:
                self.failed[outcome.log_id] = (nodeid, outcome.error)
        client, self._client = self._client, None
        if client is not None and self._gateway is not None:
            self._gateway.run(client.aclose())

    def finish(self, config: pytest.Config, results: Iterable[Any]) -> None:
        """Flush; hand the outcome to the xdist controller, or mark each result's entries."""
        self.flush()
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_KEY] = {
                "annotated": sorted(self.annotated),
                "failed": [[k, n, why] for k, (n, why) in self.failed.items()],
                "no_log_id": self.no_log_id,
            }
        for result in results:
            for entry in getattr(result, "feedback", None) or []:
                entry["status"] = self.status(entry["logId"])

    def merge_worker(self, data: Any) -> None:
        """The controller's side of ``finish``: one worker's outcome."""
        if not isinstance(data, dict):
            return
        self.annotated.update(str(x) for x in data.get("annotated", []))
        for log_id, nodeid, why in data.get("failed", []):
            self.failed[str(log_id)] = (str(nodeid), str(why))
        self.no_log_id += int(data.get("no_log_id", 0))

    def status(self, log_id: str) -> str:
        if log_id in self.annotated:
            return "annotated"
        if log_id in self.failed:
            return f"failed: {self.failed[log_id][1]}"
        return "unknown"

    def summary_lines(self, verbose: bool) -> list[str]:
        if not self.enabled:
            return []
        if not self.sends:
            return ["feedback: replay mode sends no feedback (nothing was logged by the gateway)"]
        lines = [f"feedback: {len(self.annotated)} gateway log entries annotated"]
        if self.no_log_id:
            lines[0] += f", {self.no_log_id} call(s) had no cf-aig-log-id (not logged?)"
        if self.failed:
            reasons: dict[str, int] = {}
            for _nodeid, why in self.failed.values():
                reasons[why] = reasons.get(why, 0) + 1
            lines[0] += f", {len(self.failed)} failed"
            lines += [f"  {n} x {why}" for why, n in sorted(reasons.items(), key=lambda x: -x[1])]
        if verbose:
            lines += [f"  annotated {log_id}" for log_id in sorted(self.annotated)]
            lines += [f"  failed {k} ({n}): {why}" for k, (n, why) in sorted(self.failed.items())]
        return lines


def note_call(node: pytest.Item, gateway: Any, req: Any, raw: Any, kind: str | None) -> None:
    """Remember a call this test sent (its log id), for the feedback after its verdict."""
    feedback = node.config.stash.get(_KEY, None)
    if feedback is None or not feedback.sends or getattr(raw, "replayed", False):
        return
    from ..gateway.errors import GatewayConfigError

    try:
        target = gateway.target(req)
    except GatewayConfigError:
        return  # the call could not have been sent; its own error reports that
    if feedback._gateway is None:
        feedback._gateway = gateway  # the first gateway's background loop runs every PATCH
    calls = node.stash.setdefault(_CALLS, [])
    calls.append(
        Call(
            log_id=raw.headers.get("cf-aig-log-id") or None,
            account_id=target.account_id,
            gateway_id=target.gateway_id,
            kind=kind or ("case" if getattr(node, "case", None) is not None else "test"),
            provider=req.provider,
        )
    )


def after_case(item: pytest.Item, result: Any, gateway: Any) -> None:
    """A config item was judged: annotate its calls' log entries (in the background)."""
    feedback = item.config.stash.get(_KEY, None)
    if feedback is not None and feedback.sends:
        feedback.submit(item, result, gateway)


def after_test(item: pytest.Item, report: pytest.TestReport) -> None:
    """A ``cf_gateway`` test's call phase ended: annotate its calls (config items are
    annotated by `after_case`, with their score)."""
    feedback = item.config.stash.get(_KEY, None)
    if feedback is None or not feedback.sends or getattr(item, "case", None) is not None:
        return
    if item.stash.get(_CALLS, None):
        feedback.submit_test(item, report)


def _ini_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}
