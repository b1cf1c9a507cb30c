-- The model registry: every trained model with its file, metrics and the exact training data it saw.
-- At most one model per kind is active; services load the active one.

CREATE TABLE models (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('captioner', 'gan', 'sentiment')),
    version TEXT NOT NULL UNIQUE CHECK (version <> ''),
    path TEXT NOT NULL CHECK (path <> ''),
    sha256 TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    status TEXT NOT NULL DEFAULT 'candidate' CHECK (status IN ('candidate', 'active', 'rejected', 'retired')),
    status_reason TEXT,
    parent_id BIGINT REFERENCES models (id),
    config JSONB NOT NULL,
    -- validation and test metrics, training curves' last values, timings
    metrics JSONB NOT NULL,
    -- what the snapshot holds: counts per split, taxonomy version, latest description id
    snapshot JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    promoted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX models_one_active_per_kind ON models (kind) WHERE status = 'active';

-- The training data snapshot, row by row: which products (and in which split) a model was trained and
-- validated on.
CREATE TABLE model_training_products (
    model_id BIGINT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id),
    split TEXT NOT NULL CHECK (split IN ('train', 'validation', 'test')),
    PRIMARY KEY (model_id, product_id)
);
