-- Issue 20: a clinician who amends only a contact's note no longer adds a contact revision or
-- moves the contact's revision and updated_at, all of which officers are sent. The notes such
-- an amendment replaced are kept in the contact's `clinical_history`, ciphertext under the
-- clinical key like `clinical_note`: as a clinical field it is stored in sim.clinical_fields,
-- given to clinical devices only, and a change that sets nothing else is not sent to officers
-- at all (sim.pull, 0010). Pushes, pulls and snapshots read the list below; nothing else moves.
UPDATE sim.record_tables
SET clinical_fields = ARRAY['clinical_note', 'clinical_history']
WHERE table_name = 'contacts';
