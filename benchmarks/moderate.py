#!/usr/bin/env python3
"""Plays artisans and moderators against a running `loupe serve` for the retraining experiment.

For each rendered piece (catalogue.jsonl + images of `loupe fixtures render`): the artisan uploads its
photo (POST /v1/drafts); a moderator compares the draft's attributes with the piece's true labels,
corrects every wrong one (POST /v1/drafts/{id}/edit) and, when anything was wrong, also rewrites the
title and description (a moderator does not publish text that names the wrong metal); then approves.
The artisan rates the draft 5 when nothing was wrong, 2 otherwise. Prints what was corrected.
"""
import argparse, collections, json, os, urllib.request, uuid


def call(url, token, method="GET", body=None, content_type="application/json"):
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Authorization", "Bearer " + token)
    if body is not None:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def upload(base, token, path):
    boundary = uuid.uuid4().hex
    data = open(path, "rb").read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{os.path.basename(path)}\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return call(base + "/v1/drafts", token, "POST", body, "multipart/form-data; boundary=" + boundary)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--renders", required=True)
    p.add_argument("--artisan-token", required=True)
    p.add_argument("--moderator-token", required=True)
    a = p.parse_args()
    records = [json.loads(line) for line in open(os.path.join(a.renders, "catalogue.jsonl"))]
    corrected = collections.Counter()
    mistakes = collections.Counter()
    drafts_with_corrections = 0
    for i, r in enumerate(records):
        draft = upload(a.url, a.artisan_token, os.path.join(a.renders, r["images"][0]))
        truth = r["attributes"]
        changes = {}
        if draft["category"]["value"] != truth["category"]:
            changes["category"] = truth["category"]
        for field in ("metal", "style", "finish"):
            if draft["attributes"][field]["value"] != truth[field]:
                changes[field] = truth[field]
        gems = sorted(g["value"] for g in draft["attributes"]["gemstones"] if g["value"] != "none")
        true_gems = sorted(g for g in truth["gemstones"] if g != "none")
        if gems != true_gems:
            changes["gemstones"] = sorted(truth["gemstones"])
        for field, value in changes.items():
            generated = draft["category"]["value"] if field == "category" else (
                ",".join(gems) if field == "gemstones" else draft["attributes"][field]["value"])
            mistakes[(field, generated, ",".join(true_gems) if isinstance(value, list) else value)] += 1
            corrected[field] += 1
        if changes:
            drafts_with_corrections += 1
            changes["title"] = r["title"]
            changes["description"] = r["descriptions"][0]
            call(f"{a.url}/v1/drafts/{draft['id']}/edit", a.moderator_token, "POST", json.dumps(changes).encode())
        call(f"{a.url}/v1/drafts/{draft['id']}/approve", a.moderator_token, "POST", b"")
        call(f"{a.url}/v1/drafts/{draft['id']}/feedback", a.artisan_token, "POST",
             json.dumps({"rating": 2 if changes else 5}).encode())
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(records)} drafts moderated", flush=True)
    print(f"{len(records)} drafts approved, {drafts_with_corrections} corrected by a moderator")
    print("corrections per field: " + ", ".join(f"{k} {v}" for k, v in sorted(corrected.items())))
    print("most frequent mistakes (field: generated -> true):")
    for (field, generated, true), n in mistakes.most_common(12):
        print(f"  {n:4d}  {field}: {generated or '(none)'} -> {true or '(none)'}")


if __name__ == "__main__":
    main()
