from tvig.cli import main

raise SystemExit(main())
