"""``voxserve`` command line: serve, worker, say, convert, voices."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from voxserve.errors import VoxserveError
from voxserve.logs import configure_logging
from voxserve.settings import Settings
from voxserve.types import MAX_SPEED, MIN_SPEED, AudioFormat

app = typer.Typer(
    name="voxserve", help="Text-to-speech server and tools.", no_args_is_help=True,
    add_completion=False,
)

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


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [VOXSERVE_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [VOXSERVE_PORT]")] = None,
    models_dir: Annotated[
        Path | None, typer.Option(help="Extra Piper voices [VOXSERVE_MODELS_DIR]")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="Log level [VOXSERVE_LOG_LEVEL]")] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM); serve HTTPS with --ssl-keyfile")
    ] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM)")] = None,
) -> None:
    """Start the HTTP server."""
    from voxserve.api.app import create_app
    from voxserve.server import run_server

    if (ssl_certfile is None) != (ssl_keyfile is None):
        typer.echo("voxserve: --ssl-certfile and --ssl-keyfile go together", err=True)
        raise typer.Exit(2)
    settings = _settings(host=host, port=port, models_dir=models_dir, log_level=log_level)
    configure_logging(settings.log_level)
    try:
        application = create_app(settings)
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(2) from None
    run_server(application, settings, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)


@app.command()
def worker(
    log_level: Annotated[str | None, typer.Option(help="Log level [VOXSERVE_LOG_LEVEL]")] = None,
) -> None:
    """Convert document projects: consume segment tasks from RabbitMQ [VOXSERVE_QUEUE_URL]."""
    import asyncio

    from voxserve.processes import run_worker

    settings = _settings(log_level=log_level)
    configure_logging(settings.log_level)
    try:
        asyncio.run(run_worker(settings))
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(2) from None


@app.command()
def convert(
    document: Annotated[Path, typer.Argument(help="Text, Markdown, HTML, EPUB or PDF file",
                                             exists=True, dir_okay=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output directory")],
    voice: Annotated[str | None, typer.Option(help="Voice id or alias")] = None,
    model: Annotated[str | None, typer.Option(help="Model (engine) name or alias")] = None,
    audio_format: Annotated[
        AudioFormat, typer.Option("--format", "-f", help="Audio format of chapters and book")
    ] = AudioFormat.MP3,
    speed: Annotated[float, typer.Option(help=f"{MIN_SPEED} to {MAX_SPEED}")] = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Convert a document to an audiobook in OUTPUT, in-process (no server needed):
    chapter files, the whole book, subtitles (VTT, SRT) and manifest.json."""
    import asyncio

    from voxserve.processes import convert as run_convert
    from voxserve.service.projects import ProjectSpec

    settings = _settings(piper_preload_voices=False)
    configure_logging("warning", json_format=False)
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


@app.command()
def say(
    text: Annotated[str, typer.Argument(help="Text to speak, or - to read standard input")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Output file (default: standard output)")
    ] = None,
    voice: Annotated[str | None, typer.Option(help="Voice id or alias")] = None,
    model: Annotated[str | None, typer.Option(help="Model (engine) name or alias")] = None,
    audio_format: Annotated[
        AudioFormat | None,
        typer.Option("--format", "-f", help="Audio format (default: by file suffix, else wav)"),
    ] = None,
    speed: Annotated[float, typer.Option(help=f"{MIN_SPEED} to {MAX_SPEED}")] = 1.0,
    sample_rate: Annotated[int | None, typer.Option(help="Output sample rate in Hz")] = None,
) -> None:
    """Synthesize text to an audio file, in-process (no server needed)."""
    import asyncio

    from voxserve.service.speech_job import SpeechInput

    if text == "-":
        text = sys.stdin.read()
    if audio_format is None:
        suffix = output.suffix.lower() if output else ""
        audio_format = _SUFFIX_FORMATS.get(suffix, AudioFormat.WAV)
    # One request: one engine replica with every core (no concurrency to serve).
    settings = _settings(piper_preload_voices=False, engine_replicas=1)
    configure_logging("warning", json_format=False)
    request = SpeechInput(text=text, model=model, voice=voice, audio_format=audio_format,
                          speed=speed, sample_rate_hz=sample_rate)
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
        stream = await service.open(service.plan(request))
        async for data in stream:
            sink.write(data)
    finally:
        await scheduler.stop()
        catalog.close()


@app.command()
def voices(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List the voices the configured engines provide."""
    from voxserve.engines.catalog import EngineCatalog

    settings = _settings(piper_preload_voices=False)
    configure_logging("warning", json_format=False)
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
keys_app = typer.Typer(
    help="Manage API keys (used when VOXSERVE_AUTH=api_key).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")


def _key_store() -> Any:
    from voxserve.security.api_keys import ApiKeyStore, default_api_keys_path

    settings = _settings()
    return ApiKeyStore(default_api_keys_path(settings.api_keys_file, settings.data_dir))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="A unique name for the key (who or what uses it)")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="speech, projects or admin; repeatable "
                                           "(default: speech)"),
    ] = None,
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


@keys_app.command("list")
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


@keys_app.command("revoke")
def keys_revoke(
    id_or_name: Annotated[str, typer.Argument(help="The key's id, or the name of an active key")],
) -> None:
    """Revoke a key; running servers refuse it from their next request on."""
    try:
        record = _key_store().revoke(id_or_name)
    except VoxserveError as exc:
        typer.echo(f"voxserve: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked key '{record.name}' (id {record.id}) at {record.revoked_at}")
