from llmx.cli.main import main

raise SystemExit(main())
