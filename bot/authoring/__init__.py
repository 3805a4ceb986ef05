"""The FAQ, the contacts and the events as spreadsheets: export for admins, and a safe import back.

Owns turning `faq/*.yml` and `content/contacts.yml` into an .xlsx workbook (sheets FAQ, Contacts,
README) or a .csv of the FAQ sheet, and reading such a file back *without touching the project*:
the file is checked for hostile or broken content before a parser sees it (size, zip bomb,
formulas, huge cells, too many rows), read into `Topic` and `Contact` objects, validated with
`bot.authoring.validate.validate` (places given as file, sheet, row and column) and compared with the
project. Only when asked, and only when nothing blocks, are the changed files rewritten, each
atomically (temporary file, then rename). Nothing in a file is ever evaluated and external links
are never followed. An exported workbook carries a hidden sheet with a fingerprint of each topic
and contact as exported, so an import does not silently undo edits made in faq/ since the export.
The events file (`events/events.yml`) makes the same round trip.

- `reading`: limits, problems and their places, reading an .xlsx or .csv safely, cell helpers;
- `report`: what an import found (`ImportReport`), diffs, export stamps, atomic writes;
- `writing`: building workbooks and CSV files, YAML that keeps the look of hand-written files;
- `faq`: the FAQ sheet, and the export and import of the whole workbook;
- `contacts`: the Contacts sheet of that workbook;
- `events`: the Events sheet;
- `validate`: every problem an admin can make in the FAQ.

The reading, reporting and writing machinery is shared by `faq`, `contacts` and `events`.
"""
