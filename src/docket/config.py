"""Settings: one object, built once at the edge (CLI callback or app factory) and passed down.

Layers, later wins: defaults < ``docket.toml`` < ``DOCKET_*`` environment < command-line flags.

``docket.toml`` is read from ``--config FILE`` when given, else from the knowledge-base directory
(``$DOCKET_HOME/docket.toml``). Environment variables name a setting as ``DOCKET_<SECTION>__<KEY>``
(for example ``DOCKET_SEARCH__ALPHA=0.6``); ``DOCKET_HOME`` sets the knowledge-base directory,
``DOCKET_OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` the model server and its key (which the ``openai``
embedder shares unless ``embedder.base_url`` names another server), ``DOCKET_DATABASE_URL`` a
PostgreSQL database as the store (``store.url``), ``DOCKET_MODELS_DIR`` the folder the packaged
local model is kept in for every knowledge base of the machine (``model.models_dir``).
Unknown sections or keys are rejected with the list of valid ones.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_serializer, field_validator

from docket.errors import ConfigError

__all__ = ["Settings", "default_home", "default_models_dir", "load_settings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbedderSettings(_Section):
    name: str = Field("minilm", description="Registered embedder: minilm (default), e5-small, openai, fake.")
    threads: int = Field(0, description="CPU threads for the embedder; 0 lets the runtime decide.")
    batch_size: int | None = Field(
        None, ge=1, description="Passages embedded per batch (per request for openai); unset: minilm 32, openai 64."
    )
    model: str | None = Field(None, description="Model the openai embedder asks for, e.g. text-embedding-3-small.")
    base_url: str | None = Field(None, description="OpenAI-compatible server for embeddings; unset: model.base_url.")
    api_key: SecretStr | None = Field(
        None, description="Key for embedder.base_url; unset: model.api_key if it is the same server. Never printed."
    )
    dim: int | None = Field(None, ge=1, description="Vector size of the openai embedder; unset: asked from the server.")
    timeout: float = Field(60.0, gt=0, description="Seconds to wait for the embedding server.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries on 429/5xx and dropped connections.")
    memory_arena: bool = Field(
        True, description="Let minilm keep its peak working memory (faster); docket serve turns it off."
    )


class ChunkingSettings(_Section):
    max_tokens: int = Field(256, ge=32, le=2048, description="Upper bound of a chunk, in tokens.")
    overlap_tokens: int = Field(32, ge=0, le=512, description="Tokens repeated between neighbours.")


class IngestSettings(_Section):
    max_file_mb: float = Field(100.0, gt=0, description="Files larger than this are skipped.")
    table_max_rows: int = Field(
        100_000, ge=0, description="A database source with more rows is not loaded as a SQL table."
    )
    ignore: list[str] = Field(
        default_factory=lambda: [".*", "__pycache__", "node_modules", "~$*", "*.tmp"],
        description="Glob patterns of file or folder names never ingested.",
    )
    sandbox: bool = Field(
        True, description="Parse each file in a worker process under the time and memory limits below."
    )
    parse_timeout: float = Field(60.0, gt=0, description="Seconds one file may take to parse (with ingest.sandbox).")
    parse_memory_mb: int = Field(
        2048, ge=64, description="Memory one file's parse may use, in MB (with ingest.sandbox; Linux)."
    )
    max_pages: int = Field(5000, ge=1, description="PDFs with more pages (presentations with more slides) are skipped.")
    max_unzipped_mb: float = Field(
        1024.0, gt=0, description="DOCX/XLSX/PPTX files that unpack to more than this are refused (zip bombs)."
    )
    max_attachment_depth: int = Field(
        3, ge=1, le=20, description="Emails attached to emails are read this many levels deep."
    )
    max_attachments: int = Field(100, ge=0, description="Attachments read per email; the rest are skipped.")
    ocr: bool = Field(
        True,
        description="Read scanned PDF pages (no usable text layer) and image files (PNG, JPEG, TIFF) with OCR; "
        "needs the engine installed (docs/ingestion.md).",
    )
    ocr_engine: str = Field(
        "tesseract", description="The OCR engine: tesseract (apt install tesseract-ocr) or rapidocr (docket[ocr])."
    )
    ocr_languages: str = Field(
        "auto",
        description="Languages OCR reads, as Tesseract codes joined by '+' (eng+deu), each needing its data "
        "(apt install tesseract-ocr-deu); auto: English, and a page that reads as another installed language "
        "(deu, fra, nld, spa, ita, por) is read again in it.",
    )
    ocr_dpi: int = Field(300, ge=72, le=600, description="Resolution PDF pages are rendered at for OCR.")
    ocr_page_timeout: float = Field(
        60.0, gt=0, description="Seconds added to a file's parse time limit for each page read by OCR."
    )


class SearchSettings(_Section):
    k: int = Field(10, ge=1, le=1000, description="Hits returned by default.")
    candidates: int = Field(100, ge=1, le=5000, description="Hits each retriever contributes to fusion.")
    mode: Literal["hybrid", "keyword", "semantic"] = Field("hybrid", description="Retrievers used.")
    alpha: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="Weight of the semantic retriever in hybrid fusion (adaptive: the starting weight each query "
        "moves from).",
    )
    fusion: Literal["adaptive", "absolute", "minmax", "rrf"] = Field(
        "adaptive",
        description="How hybrid search combines the two retrievers: adaptive (weight set per query), absolute "
        "(alpha for every query; absolute with alpha 0.6 is the fusion before adaptive), minmax or rrf.",
    )
    coverage: float = Field(
        0.0,
        ge=0.0,
        le=8.0,
        description="Hybrid keyword scores are multiplied by the share of the query's words some readable passage "
        "contains (idf-weighted) to this power, so a question whose telling word no document uses leans on semantic "
        "search; 0 turns it off.",
    )
    sentences: int = Field(
        0,
        ge=0,
        le=1000,
        description="Fused hybrid candidates scored again by their best-matching sentence (its vector is kept at "
        "ingest); 0 turns it off.",
    )
    query_cache: int = Field(
        1024,
        ge=0,
        le=1_000_000,
        description="Query vectors kept per process (least recently used dropped first): a question asked again "
        "is not embedded again; 0 turns the cache off.",
    )


class AnswerSettings(_Section):
    top_k: int = Field(6, ge=1, le=50, description="Passages an answer is drawn from.")
    document_passages: int = Field(
        2,
        ge=0,
        le=20,
        description="Passages of the best-ranked document added to an extractive answer's evidence by a second "
        "search within that document: the line that answers is often in another part of it.",
    )
    scope: bool = Field(
        True,
        description="Restrict an answer to the documents a question names by organisation, period or kind "
        "(read from the documents' profiles).",
    )
    max_sentences: int = Field(3, ge=1, le=10, description="Sentences in an extractive answer.")
    context_tokens: int = Field(
        2200,
        ge=0,
        le=100_000,
        description="Tokens of source text a model reads: the retrieved passages widened to the sections "
        "around them (0: the passages alone). Fits a 4,096-token model with room for the answer.",
    )
    min_relevance: float = Field(
        0.44,
        ge=0.0,
        le=1.0,
        description="Below this evidence score an extractive answer abstains instead of answering "
        "(chosen on the dev halves of several sets: python bench/calibrate.py).",
    )
    document_tokens: int = Field(
        3000,
        ge=500,
        le=200_000,
        description="Prompt budget of one model call when summarising or asking over whole documents.",
    )
    summary_sentences: int = Field(
        5, ge=1, le=50, description="Sentences per document in a summary made without a model."
    )


class ModelSettings(_Section):
    name: str | None = Field(
        None, description="Language model for generated answers, e.g. openai:gpt-4o-mini; none = extractive."
    )
    fallback: str | None = Field(None, description="Model asked when the first one fails, e.g. local.")
    base_url: str = Field("https://api.openai.com/v1", description="OpenAI-compatible server (DOCKET_OPENAI_BASE_URL).")
    api_key: SecretStr | None = Field(None, description="API key (OPENAI_API_KEY); never printed.")
    anthropic_base_url: str | None = Field(None, description="Anthropic API address; default the public API.")
    anthropic_api_key: SecretStr | None = Field(None, description="Anthropic key (ANTHROPIC_API_KEY); never printed.")
    timeout: float = Field(60.0, gt=0, description="Seconds to wait for the model.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries on 429/5xx and dropped connections.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(512, ge=1, description="Longest answer, in tokens.")
    prices: dict[str, list[float]] = Field(
        default_factory=dict,
        description='USD per million tokens [input, output] by model, e.g. "openai:gpt-4o-mini" = [0.15, 0.6].',
    )
    daily_budget: float | None = Field(None, ge=0, description="USD a day for model calls; refuse beyond it.")
    monthly_budget: float | None = Field(None, ge=0, description="USD a month for model calls; refuse beyond it.")
    min_support: float = Field(
        0.5, ge=0.0, le=1.0, description="A cited sentence less similar than this to its source is marked unsupported."
    )
    models_dir: Path | None = Field(
        None,
        description="Folder the packaged local model is assembled into once and shared by every knowledge base "
        "(DOCKET_MODELS_DIR); unset: models/ in the user data directory.",
    )

    def local_models_dir(self) -> Path:
        """Where the packaged local model is kept: ``models_dir``, else the machine-wide default."""
        return (self.models_dir or default_models_dir()).expanduser()


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Address docket serve binds; 0.0.0.0 exposes it to the network.")
    port: int = Field(8000, ge=1, le=65535, description="Port docket serve listens on.")
    max_upload_mb: float = Field(50.0, gt=0, description="Largest file accepted by an upload.")
    max_upload_files: int = Field(1000, ge=1, le=100_000, description="Most files one upload request may carry.")
    max_upload_request_mb: float = Field(
        500.0, gt=0, description="Largest upload request, all its files together; refused before it is read."
    )
    max_json_kb: int = Field(
        1024, ge=16, description="Largest request body other than a file upload (JSON), in KB; larger is a 413."
    )
    login_attempts: int = Field(5, ge=1, description="Failed sign-ins per email within 5 minutes before a pause.")
    login_attempts_per_address: int = Field(
        30, ge=1, description="Failed sign-ins from one address (any email) within 5 minutes before a pause."
    )
    key_attempts: int = Field(
        20,
        ge=1,
        description="Wrong API keys per address within 5 minutes before further wrong keys get 429 (valid keys never).",
    )
    widget_requests_per_minute: int = Field(
        10, ge=1, description="Questions one website visitor may ask a public workspace per minute."
    )
    workers: int = Field(
        1,
        ge=0,
        le=64,
        description="Server processes docket serve runs on one port (0: one per core); they share the knowledge base.",
    )
    max_requests: int = Field(
        64,
        ge=1,
        le=100_000,
        description="Requests to /api and /v1 one server process holds at once, running or waiting; more are "
        "answered 503 with Retry-After at once instead of waiting longer and longer.",
    )
    retry_after_seconds: int = Field(
        2, ge=1, le=3600, description="The Retry-After a request refused by server.max_requests is given."
    )
    keep_alive_seconds: int = Field(
        75,
        ge=1,
        le=3600,
        description="Seconds an idle connection stays open for the client's next request. Longer than clients "
        "keep theirs (httpx 5 s, proxies often 60 s), so the client closes it first and never sends a request on a "
        "connection the server is closing.",
    )
    secure_cookies: bool = Field(False, description="Mark session cookies Secure (set when served over HTTPS).")
    session_hours: float = Field(336.0, gt=0, description="Hours a sign-in session lasts before it expires.")
    schedule_check_seconds: float = Field(
        30.0, gt=0, description="How often docket serve checks for due schedules (workflow runs, periodic jobs)."
    )
    hook_requests_per_minute: int = Field(
        60, ge=1, description="Incoming webhook calls accepted per sending address per minute."
    )
    secret_env_prefix: str = Field(
        "DOCKET_SECRET_",
        min_length=1,
        description="Sources added over the API may read passwords only from environment variables with this prefix.",
    )
    secrets_dir: Path | None = Field(
        None,
        description="Sources added over the API may read password files only under this folder; unset: HOME/secrets.",
    )


class NetworkSettings(_Section):
    allow_private_hosts: list[str] = Field(
        default_factory=list,
        description="Loopback or private hosts outbound requests set by users and admins may reach (webhooks): "
        "names or addresses, optionally :PORT, or networks like 10.1.0.0/16. Link-local and cloud-metadata "
        "addresses are never reached.",
    )


class StoreSettings(_Section):
    url: str | None = Field(
        None,
        description="PostgreSQL database to use as the store, postgresql://USER:PASSWORD@HOST:PORT/DB "
        "(DOCKET_DATABASE_URL); unset: the embedded SQLite file docket.db. The password is never printed.",
    )
    pool_size: int = Field(5, ge=1, le=200, description="Most PostgreSQL connections one Docket process holds.")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to wait for the PostgreSQL server.")
    hnsw_m: int = Field(16, ge=2, le=100, description="HNSW graph links per vector (pgvector m), at index creation.")
    hnsw_ef_construction: int = Field(
        64, ge=4, le=1000, description="HNSW candidate list while building the index (pgvector ef_construction)."
    )
    hnsw_ef_search: int = Field(
        100, ge=1, le=1000, description="HNSW candidate list per query (raised to the hits asked for)."
    )
    vector_index_min_chunks: int = Field(
        100_000,
        ge=1,
        description="Embedded store: from this many chunks on, vector search uses an approximate index file "
        "beside docket.db (needs docket[scale]) instead of an exact scan of every vector held in memory.",
    )

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "must start with postgresql:// (for example postgresql://docket:PASSWORD@localhost/docket)"
            )
        return value

    @field_serializer("url", when_used="json")
    def _hide_password(self, value: str | None) -> str | None:
        return None if value is None else redact_url(value)


def redact_url(url: str) -> str:
    """``url`` with its password (if any) shown as '****', safe to print or log."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if not parts.password:
            return url
        netloc = parts.netloc.rpartition("@")
        user = netloc[0].partition(":")[0]
        return urlunsplit(parts._replace(netloc=f"{user}:****@{netloc[2]}"))
    except ValueError:
        return "postgresql://****"


class Settings(_Section):
    home: Path = Field(description="Knowledge-base directory.")
    embedder: EmbedderSettings = EmbedderSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    search: SearchSettings = SearchSettings()
    answer: AnswerSettings = AnswerSettings()
    model: ModelSettings = ModelSettings()
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    network: NetworkSettings = NetworkSettings()

    @property
    def db_path(self) -> Path:
        return self.home / "docket.db"

    def redacted(self) -> dict[str, Any]:
        """Settings as a plain dict, safe to print: secrets show as '**********' (or None)."""
        return self.model_dump(mode="json")


SECTIONS = ("embedder", "chunking", "ingest", "search", "answer", "model", "server", "store", "network")

# Well-known variables other tools use too, mapped onto settings.
_ALIASES = {
    "DOCKET_OPENAI_BASE_URL": ("model", "base_url"),
    "OPENAI_API_KEY": ("model", "api_key"),
    "ANTHROPIC_API_KEY": ("model", "anthropic_api_key"),
    "DOCKET_DATABASE_URL": ("store", "url"),
    "DOCKET_MODELS_DIR": ("model", "models_dir"),
}


def default_home() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("docket", appauthor=False))


def default_models_dir() -> Path:
    """The machine-wide folder for packaged models: ``models/`` in the user data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("docket", appauthor=False)) / "models"


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, (section, key) in _ALIASES.items():
        if environ.get(name):
            layer.setdefault(section, {})[key] = environ[name]
    for name, value in environ.items():
        if not name.startswith("DOCKET_") or "__" not in name:
            continue
        section, _, key = name[len("DOCKET_") :].lower().partition("__")
        if section not in SECTIONS:
            raise ConfigError(
                f"environment variable {name}: unknown section '{section}'. Valid sections: {', '.join(SECTIONS)}"
            )
        field = Settings.model_fields[section].annotation
        if field is not None and hasattr(field, "model_fields") and key in field.model_fields:
            annotation = field.model_fields[key].annotation
            if annotation is not None and "list" in str(annotation):
                layer.setdefault(section, {})[key] = [v.strip() for v in value.split(",") if v.strip()]
                continue
        layer.setdefault(section, {})[key] = value
    return layer


def _explain(exc: ValidationError, origin: str) -> ConfigError:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            section = str(err["loc"][0]) if len(err["loc"]) > 1 else None
            model: Any = Settings.model_fields[section].annotation if section in SECTIONS else Settings
            valid = ", ".join(k for k in model.model_fields if k != "home")
            problems.append(f"unknown setting '{loc}' (valid here: {valid})")
        else:
            problems.append(f"{loc}: {err['msg']}")
    return ConfigError(f"invalid settings from {origin}: " + "; ".join(problems))


def load_settings(
    home: str | Path | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the one Settings object from all layers. ``overrides`` are flags, nested by section."""
    env = os.environ if environ is None else environ
    resolved_home = Path(home or env.get("DOCKET_HOME") or default_home()).expanduser()
    data: dict[str, Any] = {}
    origin = "defaults"
    path = Path(config_file) if config_file else resolved_home / "docket.toml"
    if config_file and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        origin = str(path)
    data = _deep_merge(data, _env_layer(env))
    if overrides:
        data = _deep_merge(data, {k: v for k, v in overrides.items() if v is not None})
    data["home"] = resolved_home
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, origin + " / DOCKET_* environment / flags") from exc
    return _embedder_server_from_model(settings)


def _embedder_server_from_model(settings: Settings) -> Settings:
    """Unless told otherwise, the ``openai`` embedder uses the model's server (``DOCKET_OPENAI_BASE_URL``)
    and, only when it is that same server, the model's key (``OPENAI_API_KEY``): a key is never sent
    to a server it was not given for."""
    emb, model = settings.embedder, settings.model
    update: dict[str, Any] = {}
    if emb.base_url is None:
        update["base_url"] = model.base_url
    same_server = (emb.base_url or model.base_url).rstrip("/") == model.base_url.rstrip("/")
    if emb.api_key is None and model.api_key is not None and same_server:
        update["api_key"] = model.api_key
    if not update:
        return settings
    return settings.model_copy(update={"embedder": emb.model_copy(update=update)})
