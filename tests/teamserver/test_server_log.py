"""With the logging settings docs/team-server.md recommends, the server's log holds no personal
data: canary names and NHS numbers go through every path (accepted, refused, malformed, attacks
on the tables) and are then looked for in the log file.
"""

from __future__ import annotations

import uuid

import psycopg
from psycopg.types.json import Jsonb

from sim_desk.teamserver import protocol
from tests.teamserver.cluster import RECOMMENDED_LOGGING
from tests.teamserver.conftest import World, person

CANARIES = {
    "name": "Canaryfrida Wolstenholme",
    "other_name": "Ollantay Canarypoma",
    "nhs": "9434765935",
    "other_nhs": "9434765943",
    "police": "CANARY-POL-7731",
    "note": "Canary shared note about Wolstenholme",
}


def test_the_server_log_holds_no_personal_data(world: World, pg_cluster):
    # The log is the one the recommended settings write (a guard against testing another file).
    with world.db.admin_connect() as admin:
        for name, value in RECOMMENDED_LOGGING.items():
            setting = admin.execute("SELECT current_setting(%s)", (name,)).fetchone()
            assert setting is not None and setting[0] in (
                value,
                value + "ms",
                {"-1": "-1"}.get(value),
            ), name

    mine, theirs = uuid.uuid4(), uuid.uuid4()
    # Accepted, on both caseloads, with a clinical part.
    assert (
        world.push(
            "officer",
            protocol.change(
                "people",
                mine,
                person(
                    world.pair_a,
                    CANARIES["name"],
                    CANARIES["nhs"],
                    police_reference=CANARIES["police"],
                ),
            ),
        )[0]["status"]
        == "accepted"
    )
    assert (
        world.push(
            "officer2",
            protocol.change(
                "people",
                theirs,
                person(world.pair_b, CANARIES["other_name"], CANARIES["other_nhs"]),
            ),
        )[0]["status"]
        == "accepted"
    )
    world.push(
        "clinician",
        protocol.change(
            "contacts",
            uuid.uuid4(),
            {"person_id": str(mine), "shared_note": CANARIES["note"]},
            clinical={"clinical_note": (CANARIES["note"].encode(), 1)},
        ),
    )
    # A duplicate NHS number on the other caseload (a merge proposal).
    world.push(
        "officer",
        protocol.change(
            "people",
            uuid.uuid4(),
            person(world.pair_a, CANARIES["other_name"], CANARIES["other_nhs"]),
        ),
    )
    # Refused: another caseload, clinical text from an officer, malformed values inside changes.
    world.push(
        "officer",
        protocol.change("people", theirs, person(world.pair_a, CANARIES["name"], CANARIES["nhs"])),
        protocol.change(
            "contacts", uuid.uuid4(), {"person_id": str(theirs), "shared_note": CANARIES["note"]}
        ),
        protocol.change(
            "contacts", uuid.uuid4(), {"person_id": str(mine), "clinical_note": CANARIES["name"]}
        ),
        protocol.change(
            "people",
            uuid.uuid4(),
            {**person(world.pair_a, CANARIES["name"], None), "pair_id": CANARIES["name"]},
        ),
        protocol.change("contacts", uuid.uuid4(), {"person_id": CANARIES["nhs"]}),
        {
            "change_id": CANARIES["name"],
            "table": "people",
            "row_id": CANARIES["nhs"],
            "op": "upsert",
            "hlc": CANARIES["nhs"],
            "payload": {"given_name": CANARIES["name"]},
        },
        protocol.change(CANARIES["name"], uuid.uuid4(), {"nhs_number": CANARIES["nhs"]}),
    )
    world.pull("officer")
    world.pull("clinician")
    world.pull("lead")
    # Attacks that fail inside PostgreSQL itself, carrying canaries in their parameters.
    with world.connect("officer") as conn:
        for query, params in (
            (
                "INSERT INTO sim.rows (row_id, table_name, payload, hlc, last_change)"
                " VALUES (gen_random_uuid(), 'people', %s, 0, 0)",
                (Jsonb({"given_name": CANARIES["name"], "nhs_number": CANARIES["nhs"]}),),
            ),
            ("SELECT * FROM sim.rows WHERE payload->>'nhs_number' = %s", (CANARIES["other_nhs"],)),
            ("UPDATE sim.rows SET payload = %s", (Jsonb({"given_name": CANARIES["name"]}),)),
            ("SELECT sim.invite(%s, 'chief', true, 1, %s)", (CANARIES["name"], CANARIES["nhs"])),
            ("SELECT sim.push(%s)", (Jsonb({"given_name": CANARIES["name"]}),)),
            ("SELECT sim.join_team(%s, %s)", (CANARIES["name"], CANARIES["nhs"].encode())),
        ):
            try:
                conn.execute(query, params)
            except psycopg.Error:
                pass
            else:
                raise AssertionError(f"should have been refused: {query}")

    # A control: a statement the administrator asks to be logged does reach this log file, so
    # the search below would see a canary if one were written.
    control = f"control-{uuid.uuid4().hex}"
    with world.db.admin_connect(autocommit=True) as admin:
        admin.execute("SET log_statement = 'all'")
        admin.execute(f"SELECT '{control}'")
    assert _eventually_in_log(pg_cluster, control)

    log = pg_cluster.log_text()
    for what, canary in CANARIES.items():
        assert canary not in log, f"the server log holds the canary {what}"
        assert canary.lower() not in log.lower()
    assert "permission denied for table rows" in log  # the refusals themselves are logged


def _eventually_in_log(cluster, text: str) -> bool:
    """The server writes its log asynchronously to our file; read until it is there (bounded)."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if text in cluster.log_text():
            return True
        time.sleep(0.05)
    return False
