-- Synthetic product images (issue 7): what the conditional GAN drew, kept apart from product photos.
-- A synthetic image is never a product photo by accident: it lives in its own table, and the only way
-- into product_images is an explicit attach that records source 'synthetic' there.

CREATE TABLE synthetic_images (
    id BIGSERIAL PRIMARY KEY,
    -- One request's images share a batch.
    batch UUID NOT NULL,
    position INTEGER NOT NULL CHECK (position >= 0),
    model_version TEXT NOT NULL CHECK (model_version <> ''),
    -- The labels the generator was conditioned on, e.g. {"category": "ring", "metal": "rose-gold"}.
    conditions JSONB NOT NULL,
    category TEXT,
    metal TEXT,
    object_key TEXT NOT NULL CHECK (object_key ~ '^[0-9a-f]{64}$'),
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    source TEXT NOT NULL DEFAULT 'synthetic' CHECK (source = 'synthetic'),
    requested_by BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (batch, position)
);
CREATE INDEX synthetic_images_labels ON synthetic_images (category, metal);
CREATE INDEX synthetic_images_object ON synthetic_images (object_key);
