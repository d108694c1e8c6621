from pbxedge.cli import main

raise SystemExit(main())
