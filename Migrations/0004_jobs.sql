-- The retraining loop: a job queue workers claim with FOR UPDATE SKIP LOCKED, and the registry columns
-- the promotion guard and rollbacks need.

CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('retrain')),
    payload JSONB NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    -- Who asked: a user, or the automatic trigger (NULL).
    requested_by BIGINT REFERENCES users (id),
    -- The worker holding it and its last sign of life: a running job whose heartbeat is older than the
    -- lease is taken over by another worker.
    worker TEXT,
    heartbeat_at TIMESTAMPTZ,
    -- The current step of a running job ("encoding train 120/800"), for `loupe jobs` and the API.
    progress TEXT NOT NULL DEFAULT '',
    error TEXT,
    result JSONB,
    run_after TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    CHECK ((status = 'running') = (worker IS NOT NULL AND heartbeat_at IS NOT NULL)),
    CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL))
);
CREATE INDEX jobs_claimable ON jobs (run_after, id) WHERE status IN ('queued', 'running');
-- At most one retraining waits or runs at a time: a second request joins the one already there.
CREATE UNIQUE INDEX jobs_one_open_retrain ON jobs (kind) WHERE kind = 'retrain' AND status IN ('queued', 'running');

-- When a model stopped being active because an admin rolled it back (a rollback never returns to it).
ALTER TABLE models ADD COLUMN rolled_back_at TIMESTAMPTZ;
-- The job that trained a candidate.
ALTER TABLE models ADD COLUMN job_id BIGINT REFERENCES jobs (id);

-- The training snapshot of a retrained model also names the approved listings it learned from, and the
-- text each one replaced (kept for analysis, never a reference).
CREATE TABLE model_training_listings (
    model_id BIGINT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    listing_id BIGINT NOT NULL REFERENCES listings (id),
    -- 'reference': trained on, the final text a reference; 'excluded': its final text names a claim its
    -- final labels contradict (the reason says which), so it teaches neither
    usage TEXT NOT NULL CHECK (usage IN ('reference', 'excluded')),
    reason TEXT,
    reference TEXT NOT NULL,
    replaced_text TEXT,
    corrected_fields TEXT[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (model_id, listing_id)
);
