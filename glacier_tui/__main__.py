from glacier_tui.cli import main

raise SystemExit(main())
