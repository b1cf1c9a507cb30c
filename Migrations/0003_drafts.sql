-- The listing service: users with hashed bearer tokens, drafts with per-field provenance, moderation,
-- artisan feedback and published listings.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    role TEXT NOT NULL CHECK (role IN ('artisan', 'moderator', 'admin')),
    -- SHA-256 of the token (256 random bits): the token itself is printed once and never stored.
    token_hash TEXT NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    -- An artisan user acts for exactly one artisan of the catalogue.
    artisan_id BIGINT REFERENCES artisans (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    disabled_at TIMESTAMPTZ,
    CHECK ((role = 'artisan') = (artisan_id IS NOT NULL))
);

-- Products come from the fixture catalogue or from approved listings. Training reads the catalogue;
-- the retraining loop decides when listings join it.
ALTER TABLE products ADD COLUMN source TEXT NOT NULL DEFAULT 'catalogue' CHECK (source IN ('catalogue', 'listing'));

CREATE TABLE drafts (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    artisan_id BIGINT NOT NULL REFERENCES artisans (id),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    notes TEXT NOT NULL DEFAULT '',
    -- The model that wrote it: the registry row when it came from the registry, and always its version.
    model_id BIGINT REFERENCES models (id),
    model_version TEXT NOT NULL CHECK (model_version <> ''),
    -- The draft exactly as the model wrote it (`loupe describe --json`).
    generated JSONB NOT NULL,
    needs_review TEXT[] NOT NULL DEFAULT '{}',
    -- The lowest confidence among the draft's claims: the moderation queue can put doubtful drafts first.
    min_confidence DOUBLE PRECISION NOT NULL CHECK (min_confidence >= 0 AND min_confidence <= 1),
    inference_ms DOUBLE PRECISION NOT NULL,
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMPTZ,
    reject_reason TEXT,
    product_id BIGINT REFERENCES products (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK ((status = 'rejected') = (reject_reason IS NOT NULL)),
    CHECK ((status = 'approved') = (product_id IS NOT NULL))
);
CREATE INDEX drafts_artisan_status ON drafts (artisan_id, status, id);
CREATE INDEX drafts_pending ON drafts (created_at, id) WHERE status = 'pending';

CREATE TABLE draft_images (
    draft_id BIGINT NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    object_key TEXT NOT NULL CHECK (object_key ~ '^[0-9a-f]{64}$'),
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    filename TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (draft_id, position)
);
CREATE INDEX draft_images_object ON draft_images (object_key);

-- Provenance, one row per field: what the model generated, with which confidence, from which model.
CREATE TABLE draft_fields (
    draft_id BIGINT NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    field TEXT NOT NULL CHECK (field IN ('title', 'description', 'category', 'metal', 'gemstones', 'style', 'finish')),
    -- a JSON string, or an array of strings for gemstones
    generated_value JSONB NOT NULL,
    -- NULL for free text; for gemstones the lowest of the listed stones' confidences
    generated_confidence DOUBLE PRECISION CHECK (generated_confidence >= 0 AND generated_confidence <= 1),
    model_version TEXT NOT NULL,
    PRIMARY KEY (draft_id, field)
);

-- Human edits, each its own record; the latest per field is the field's value.
CREATE TABLE draft_edits (
    id BIGSERIAL PRIMARY KEY,
    draft_id BIGINT NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    field TEXT NOT NULL CHECK (field IN ('title', 'description', 'category', 'metal', 'gemstones', 'style', 'finish')),
    value JSONB NOT NULL,
    editor_id BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX draft_edits_draft ON draft_edits (draft_id, field, id);

-- The artisan's rating and corrections: one row per artisan and draft, replaced on resubmission.
CREATE TABLE draft_feedback (
    id BIGSERIAL PRIMARY KEY,
    draft_id BIGINT NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    rating SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    -- {"metal": "rose-gold", "title": "...", ...}: what the artisan says each field should be
    corrections JSONB NOT NULL DEFAULT '{}',
    comment TEXT NOT NULL DEFAULT '',
    model_version TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (draft_id, user_id)
);

-- What happened to a draft, in order: created, edited, approved, rejected, feedback.
CREATE TABLE draft_events (
    id BIGSERIAL PRIMARY KEY,
    draft_id BIGINT NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    action TEXT NOT NULL CHECK (action IN ('created', 'edited', 'approved', 'rejected', 'feedback')),
    detail JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX draft_events_draft ON draft_events (draft_id, id);

-- A published listing: the approved draft's final values, each with its provenance.
CREATE TABLE listings (
    id BIGSERIAL PRIMARY KEY,
    draft_id BIGINT NOT NULL UNIQUE REFERENCES drafts (id),
    product_id BIGINT NOT NULL UNIQUE REFERENCES products (id),
    artisan_id BIGINT NOT NULL REFERENCES artisans (id),
    title TEXT NOT NULL CHECK (title <> ''),
    description TEXT NOT NULL CHECK (description <> ''),
    -- {"category": {"value": ..., "provenance": {...}}, ...}
    fields JSONB NOT NULL,
    published_by BIGINT NOT NULL REFERENCES users (id),
    published_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX listings_published ON listings (published_at DESC, id DESC);
