"""``python -m meshlink.offline.rehearse RENDER_DIR [--json]``."""

from meshlink.offline.rehearse import main

raise SystemExit(main())
