"""``voxserve`` command line: serve, worker, say, convert, voices, keys, models.

Help is plain text (``-h`` or ``--help``) in click's usual shape: ``TEXT`` for a required
argument, ``--port PORT`` for an option with a value, bare flags, and every default.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from voxserve import __version__
from voxserve.errors import VoxserveError
from voxserve.logs import configure_logging
from voxserve.settings import Settings
from voxserve.types import MAX_SPEED, MIN_SPEED, AudioFormat

_CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True}


class _Command(TyperCommand):
    """A command whose usage line names arguments as click does (``TEXT``, ``[TEXT]``) and
    whose argument rows show no type label (the metavar says it)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "ARG").upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
            elif isinstance(param, TyperOption) and isinstance(param.show_default, str):
                # a described default ("127.0.0.1"), shown as it is, not as "(127.0.0.1)"
                param._get_default_string = (  # type: ignore[method-assign]
                    lambda *, text=param.show_default, **_: text)
        super().format_help(ctx, formatter)


class _Group(TyperGroup):
    command_class = _Command


def _typer(**kwargs: Any) -> typer.Typer:
    return typer.Typer(cls=_Group, rich_markup_mode=None, context_settings=_CONTEXT,
                       no_args_is_help=True, add_completion=False, **kwargs)


app = _typer(name="voxserve", help="Text-to-speech server and tools.")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"voxserve {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option(
        "--version", "-V", help="Print the version and exit.", is_eager=True,
        callback=_show_version)] = False,
) -> None:
    """Text-to-speech server and tools."""

_SUFFIX_FORMATS = {
    ".wav": AudioFormat.WAV, ".mp3": AudioFormat.MP3, ".ogg": AudioFormat.OPUS,
    ".opus": AudioFormat.OPUS, ".oga": AudioFormat.OPUS, ".flac": AudioFormat.FLAC,
    ".aac": AudioFormat.AAC, ".pcm": AudioFormat.PCM, ".raw": AudioFormat.PCM,
}


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        typer.echo(f"voxserve: invalid configuration: {exc}", err=True)
        raise typer.Exit(2) from None


_DEFAULTS = Settings.model_fields


@app.command(cls=_Command)
def serve(
    host: Annotated[str | None, typer.Option(
        help="Bind address [VOXSERVE_HOST]", metavar="HOST",
        show_default=str(_DEFAULTS["host"].default))] = None,
    port: Annotated[int | None, typer.Option(
        help="Port [VOXSERVE_PORT]", metavar="PORT",
        show_default=str(_DEFAULTS["port"].default))] = None,
    models_dir: Annotated[Path | None, typer.Option(
        help="Extra Piper voices [VOXSERVE_MODELS_DIR]", metavar="DIR",
        show_default="<data dir>/models")] = None,
    log_level: Annotated[str | None, typer.Option(
        help="debug, info, warning, error [VOXSERVE_LOG_LEVEL]", metavar="LEVEL",
        show_default=str(_DEFAULTS["log_level"].default))] = None,
    log_format: Annotated[str | None, typer.Option(
        help="json, text, or auto: text on a terminal [VOXSERVE_LOG_FORMAT]",
        metavar="FORMAT", show_default=str(_DEFAULTS["log_format"].default))] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(
        help="TLS certificate (PEM); serve HTTPS with --ssl-keyfile", metavar="FILE")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(
        help="TLS private key (PEM)", metavar="FILE")] = None,
    grpc_port: Annotated[int | None, typer.Option(
        help="Also serve the gRPC API on this port (same TLS, auth, limits) "
             "[VOXSERVE_GRPC_PORT]", metavar="PORT", show_default="off")] = None,
) -> None:
    """Start the HTTP server (and the gRPC API with --grpc-port)."""
    from voxserve.api.app import create_app
    from voxserve.server import run_server

    if (ssl_certfile is None) != (ssl_keyfile is None):
        typer.echo("voxserve: --ssl-certfile and --ssl-keyfile go together", err=True)
        raise typer.Exit(2)
    settings = _settings(host=host, port=port, models_dir=models_dir, log_level=log_level,
                         log_format=log_format, grpc_port=grpc_port)
    configure_logging(settings.log_level, log_format=settings.log_format)
    try:
        application = create_app(settings)
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(2) from None
    run_server(application, settings, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)


@app.command(cls=_Command)
def worker(
    log_level: Annotated[str | None, typer.Option(
        help="debug, info, warning, error [VOXSERVE_LOG_LEVEL]", metavar="LEVEL",
        show_default=str(_DEFAULTS["log_level"].default))] = None,
) -> None:
    """Convert document projects: consume segment tasks from RabbitMQ [VOXSERVE_QUEUE_URL]."""
    import asyncio

    from voxserve.processes import run_worker

    settings = _settings(log_level=log_level)
    configure_logging(settings.log_level, log_format=settings.log_format)
    try:
        asyncio.run(run_worker(settings))
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(2) from None


@app.command(cls=_Command)
def convert(
    document: Annotated[Path, typer.Argument(help="Text, Markdown, HTML, EPUB or PDF file",
                                             exists=True, dir_okay=False, metavar="FILE")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output directory",
                                         metavar="DIR")],
    voice: Annotated[str | None, typer.Option(
        help="Voice id or alias", metavar="VOICE",
        show_default=str(_DEFAULTS["default_voice"].default))] = None,
    model: Annotated[str | None, typer.Option(
        help="Model (engine) name or alias", metavar="MODEL",
        show_default=str(_DEFAULTS["default_model"].default))] = None,
    audio_format: Annotated[AudioFormat, typer.Option(
        "--format", "-f", help="Audio format of chapters and book: "
        + ", ".join(f.value for f in AudioFormat), metavar="FORMAT")] = AudioFormat.MP3,
    speed: Annotated[float, typer.Option(
        help=f"Speaking rate, {MIN_SPEED} to {MAX_SPEED}", metavar="SPEED")] = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Convert a document to an audiobook in OUTPUT, in-process (no server needed):
    chapter files, the whole book, subtitles (VTT, SRT) and manifest.json."""
    import asyncio

    from voxserve.processes import convert as run_convert
    from voxserve.service.projects import ProjectSpec

    settings = _settings(piper_preload_voices=False)
    configure_logging("warning", log_format="text")
    spec = ProjectSpec(model=model, voice=voice, audio_format=audio_format, speed=speed)
    with typer.progressbar(length=1, label="converting", file=sys.stderr,
                           hidden=quiet) as bar:
        shown = [0]

        def on_progress(done: int, total: int) -> None:
            bar.length = total
            if done > shown[0]:
                bar.update(done - shown[0])
                shown[0] = done

        try:
            project, files = asyncio.run(
                run_convert(settings, document, output, spec, on_progress)
            )
        except VoxserveError as exc:
            typer.echo(f"\nvoxserve: {exc.message}", err=True)
            raise typer.Exit(2) from None
    if not quiet:
        typer.echo(f"{project.name}: {len(files)} files in {output}", err=True)


@app.command(cls=_Command)
def say(
    text: Annotated[str, typer.Argument(help="Text to speak, or - to read standard input",
                                        metavar="TEXT")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Output file; without it, standard output (not a terminal)",
        metavar="FILE")] = None,
    voice: Annotated[str | None, typer.Option(
        help="Voice id or alias", metavar="VOICE",
        show_default=str(_DEFAULTS["default_voice"].default))] = None,
    model: Annotated[str | None, typer.Option(
        help="Model (engine) name or alias", metavar="MODEL",
        show_default=str(_DEFAULTS["default_model"].default))] = None,
    audio_format: Annotated[AudioFormat | None, typer.Option(
        "--format", "-f", help="Audio format: " + ", ".join(f.value for f in AudioFormat),
        metavar="FORMAT", show_default="by the file's suffix, else wav")] = None,
    speed: Annotated[float, typer.Option(
        help=f"Speaking rate, {MIN_SPEED} to {MAX_SPEED}", metavar="SPEED")] = 1.0,
    sample_rate: Annotated[int | None, typer.Option(
        help="Output sample rate in Hz", metavar="HZ",
        show_default="the voice's (pcm: 24000)")] = None,
) -> None:
    """Synthesize text to an audio file, in-process (no server needed)."""
    import asyncio

    from voxserve.service.speech_job import SpeechInput, openai_sample_rate

    if output is None and sys.stdout.isatty():
        typer.echo("voxserve: not writing audio to a terminal; give a file with -o FILE "
                   "(e.g. -o hello.wav) or redirect standard output (> hello.wav)", err=True)
        raise typer.Exit(2)
    if text == "-":
        text = sys.stdin.read()
    if audio_format is None:
        suffix = output.suffix.lower() if output else ""
        audio_format = _SUFFIX_FORMATS.get(suffix, AudioFormat.WAV)
    # One request: one engine replica with every core (no concurrency to serve).
    settings = _settings(piper_preload_voices=False, engine_replicas=1)
    configure_logging("warning", log_format="text")
    request = SpeechInput(text=text, model=model, voice=voice, audio_format=audio_format,
                          speed=speed, sample_rate_hz=openai_sample_rate(audio_format,
                                                                         sample_rate))
    try:
        sink = output.open("wb") if output else sys.stdout.buffer
        try:
            asyncio.run(_speak(settings, request, sink))
        finally:
            if output:
                sink.close()
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(2) from None


async def _speak(settings: Settings, request: Any, sink: Any) -> None:
    """The speech use case in this process: plan, admit, stream into ``sink``."""
    import asyncio

    from voxserve.engines.catalog import EngineCatalog
    from voxserve.scheduler import Scheduler
    from voxserve.service.speech import SpeechService

    catalog = EngineCatalog(settings)
    scheduler = Scheduler(settings)
    try:
        await asyncio.to_thread(catalog.load)
        scheduler.start(catalog.replicas())
        service = SpeechService(settings, catalog, scheduler)
        stream = await service.speak(request, transport="cli")
        async for data in stream:
            sink.write(data)
    finally:
        await scheduler.stop()
        catalog.close()


@app.command(cls=_Command)
def voices(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List the voices the configured engines provide."""
    from voxserve.engines.catalog import EngineCatalog

    settings = _settings(piper_preload_voices=False)
    configure_logging("warning", log_format="text")
    catalog = EngineCatalog(settings)
    try:
        catalog.load()
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(2) from None
    found = catalog.voices()
    if as_json:
        typer.echo(json.dumps([
            {"id": v.id, "engine": v.engine, "language": v.language,
             "sample_rate": v.sample_rate_hz, "aliases": list(v.aliases),
             "description": v.description}
            for v in found
        ], indent=2))
        return
    for v in found:
        aliases = f" (aliases: {', '.join(v.aliases)})" if v.aliases else ""
        typer.echo(f"{v.id}\t{v.engine}\t{v.language}\t{v.sample_rate_hz} Hz{aliases}")


# --- voxserve models …: optimized variants here (issue 17), versions through the running
# server's admin API below (issue 19) ---------------------------------------------------------

models_app = _typer(help="Model versions: list, import, load, unload, activate, roll back, "
                         "remove (through a running server's admin API, admin scope); "
                         "optimize: INT8/FP16 variants of a Piper voice (local).")
app.add_typer(models_app, name="models")


@models_app.command("optimize", cls=_Command)
def models_optimize(
    voice: Annotated[str, typer.Argument(
        help="The Piper voice (id or short name, e.g. joe)", metavar="VOICE")],
    int8: Annotated[bool, typer.Option("--int8", help="Dynamic INT8 quantization")] = False,
    fp16: Annotated[bool, typer.Option("--fp16", help="FP16 weights (for GPU execution)")
                    ] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Directory to write to", show_default="<data dir>/models")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing variant")
                     ] = False,
) -> None:
    """Write VOICE@int8 (or @fp16) beside the models: a voice of its own, listed by
    /v1/voices once the server (re)starts. Needs the 'optimize' extra."""
    import importlib

    if int8 == fp16:
        typer.echo("voxserve: give exactly one of --int8 or --fp16", err=True)
        raise typer.Exit(2)
    settings = _settings()
    configure_logging("warning", log_format="text")
    # Imported by name, as the engine registry does: the CLI never imports a model library.
    variants = importlib.import_module("voxserve.engines.piper_variants")
    try:
        files = variants.find_voice(settings, voice)
        written = variants.write_variant(
            files, "int8" if int8 else "fp16", output or settings.resolved_models_dir,
            overwrite=force,
        )
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(2) from None
    size_mb = written.model_path.stat().st_size / 1e6
    original_mb = files.model_path.stat().st_size / 1e6
    typer.echo(f"{written.voice_id}\t{written.model_path}\t{size_mb:.1f} MB "
               f"(from {original_mb:.1f} MB)")


keys_app = _typer(help="Manage API keys (used when VOXSERVE_AUTH=api_key).")
app.add_typer(keys_app, name="keys")


def _key_store() -> Any:
    from voxserve.security.api_keys import ApiKeyStore, default_api_keys_path

    settings = _settings()
    return ApiKeyStore(default_api_keys_path(settings.api_keys_file, settings.data_dir))


@keys_app.command("create", cls=_Command)
def keys_create(
    name: Annotated[str, typer.Argument(
        help="A unique name for the key (who or what uses it)", metavar="NAME")],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", "-s", help="speech, projects or admin; repeatable", metavar="SCOPE",
        show_default="speech")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON")] = False,
) -> None:
    """Create a key and print it. It is shown only this once: store it now."""
    store = _key_store()
    try:
        record, key = store.create(name, scope or ["speech"])
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({**record.public(), "key": key}))
        return
    typer.echo(key)
    typer.echo(f"created key '{record.name}' (id {record.id}, scopes "
               f"{' '.join(record.scopes)}) in {store.path}; it is not shown again",
               err=True)


@keys_app.command("list", cls=_Command)
def keys_list(
    show_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
) -> None:
    """List keys (never the keys themselves: only ids, names, scopes and dates)."""
    try:
        records = _key_store().list(include_revoked=show_revoked)
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(1) from None
    for record in records:
        if as_json:
            typer.echo(json.dumps(record.public()))
        else:
            state = f"revoked {record.revoked_at}" if record.revoked_at else "active"
            typer.echo(f"{record.id}  {record.name:<24} {','.join(record.scopes):<22} "
                       f"created {record.created_at}  {state}")


@keys_app.command("revoke", cls=_Command)
def keys_revoke(
    id_or_name: Annotated[str, typer.Argument(
        help="The key's id, or the name of an active key", metavar="ID_OR_NAME")],
) -> None:
    """Revoke a key; running servers refuse it from their next request on."""
    try:
        record = _key_store().revoke(id_or_name)
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked key '{record.name}' (id {record.id}) at {record.revoked_at}")


# --- voxserve models … (issue 19): the running server's admin API ---------------------------

_SERVER = "http://127.0.0.1:8000"


@models_app.callback()
def _models_main(
    ctx: typer.Context,
    server: Annotated[str, typer.Option(
        "--server", help="The server's base URL", metavar="URL")] = _SERVER,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", help="An admin-scope API key (or JWT) when authentication is on",
        metavar="KEY", show_default=False)] = None,
) -> None:
    ctx.obj = {"server": server.rstrip("/"), "api_key": api_key}


def _admin(ctx: typer.Context, method: str, path: str, body: Any = None) -> Any:
    """One admin request; exits 1 with the server's error message on failure."""
    import httpx

    server, api_key = ctx.obj["server"], ctx.obj["api_key"]
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.request(method, f"{server}/v1/admin/models{path}", json=body,
                                 headers=headers, timeout=600.0)
    except httpx.HTTPError as exc:
        typer.echo(f"voxserve: cannot reach the server at {server}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        typer.echo(f"voxserve: {message} (HTTP {response.status_code})", err=True)
        raise typer.Exit(1)
    return response.json() if response.content else None


def _model_version(value: str) -> tuple[str, str]:
    model, _, version = value.partition("@")
    if not model or not version:
        typer.echo(f"voxserve: name a version as MODEL@VERSION, not {value!r}", err=True)
        raise typer.Exit(2)
    return model, version


def _print_model(model: dict[str, Any]) -> None:
    ready = "ready" if model["ready"] else "not ready"
    aliases = f" aliases: {', '.join(model['aliases'])}" if model["aliases"] else ""
    typer.echo(f"{model['id']} ({model['engine']}, {model['language'] or '?'}, {ready}){aliases}")
    for row in model["versions"]:
        marks = ("*" if row["active"] else " ") + ("r" if row["read_only"] else " ")
        loaded = f" {row['bytes'] / 1e6:.0f} MB" if row["bytes"] else ""
        error = f"  error: {row['error']}" if row["error"] else ""
        typer.echo(f"  {marks} {row['version']:<12} {row['state']:<9}{loaded}{error}")


@models_app.command("list", cls=_Command)
def models_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List models and their versions (* active, r read-only)."""
    found = _admin(ctx, "GET", "")
    if as_json:
        typer.echo(json.dumps(found["data"], indent=2))
        return
    for model in found["data"]:
        _print_model(model)


@models_app.command("import", cls=_Command)
def models_import(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(
        help="A version directory (manifest.json optional) or one .onnx file, on the "
             "server's filesystem; or mlflow:models:/NAME@ALIAS (or /NAME/VERSION) from the "
             "server's MLflow registry, an alias then followed by sync", metavar="PATH")],
    model: Annotated[str | None, typer.Option(
        "--model", help="Model name", metavar="NAME", show_default="the file or folder name",
    )] = None,
    version: Annotated[str | None, typer.Option(
        "--version", help="Version name", metavar="VERSION", show_default="the next number",
    )] = None,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="Engine, when PATH has no manifest.json", metavar="ENGINE",
        show_default="piper for an .onnx voice")] = None,
    activate: Annotated[bool, typer.Option("--activate", help="Activate it at once")] = False,
) -> None:
    """Copy a model version into the repository (checked; nothing is kept on failure)."""
    if path.startswith("mlflow:"):
        location = path
    else:
        source = Path(path).expanduser().resolve()
        location = str(source)
        if engine is None and not (source / "manifest.json").is_file() and (
            source.suffix == ".onnx" or any(source.glob("*.onnx"))
        ):
            engine = "piper"
    found = _admin(ctx, "POST", "/import", {
        "path": location, "model": model, "version": version, "engine": engine,
        "activate": activate,
    })
    typer.echo(f"imported {found['id']}@{found['imported_version']}")
    _print_model(found)


def _version_action(ctx: typer.Context, action: str, target: str) -> None:
    model, version = _model_version(target)
    row = _admin(ctx, "POST", f"/{model}/versions/{version}/{action}")
    typer.echo(f"{model}@{row['version']}: {row['state']}")


@models_app.command("load", cls=_Command)
def models_load(ctx: typer.Context, target: Annotated[str, typer.Argument(
        help="MODEL@VERSION", metavar="MODEL@VERSION")]) -> None:
    """Load a version (it serves requests that pin it; activate makes it the default)."""
    _version_action(ctx, "load", target)


@models_app.command("unload", cls=_Command)
def models_unload(ctx: typer.Context, target: Annotated[str, typer.Argument(
        help="MODEL@VERSION", metavar="MODEL@VERSION")]) -> None:
    """Unload a version once the requests using it finish."""
    _version_action(ctx, "unload", target)


@models_app.command("activate", cls=_Command)
def models_activate(ctx: typer.Context, target: Annotated[str, typer.Argument(
        help="MODEL@VERSION", metavar="MODEL@VERSION")]) -> None:
    """Load a version and switch new requests to it; the old one drains and unloads."""
    model, version = _model_version(target)
    _print_model(_admin(ctx, "POST", f"/{model}/activate", {"version": version}))


@models_app.command("rollback", cls=_Command)
def models_rollback(ctx: typer.Context, model: Annotated[str, typer.Argument(
        help="The model", metavar="MODEL")]) -> None:
    """Activate the version that was active before the current one."""
    _print_model(_admin(ctx, "POST", f"/{model}/rollback"))


@models_app.command("remove", cls=_Command)
def models_remove(ctx: typer.Context, target: Annotated[str, typer.Argument(
        help="MODEL@VERSION", metavar="MODEL@VERSION")]) -> None:
    """Delete a version that is not active from the repository."""
    model, version = _model_version(target)
    _admin(ctx, "DELETE", f"/{model}/versions/{version}")
    typer.echo(f"removed {model}@{version}")


@models_app.command("sync", cls=_Command)
def models_sync(ctx: typer.Context) -> None:
    """Make the server follow the repository's active pointers now."""
    changed = _admin(ctx, "POST", "/sync")["changed"]
    typer.echo(f"changed: {', '.join(changed) or 'nothing'}")
