"""One module per ``edgesight`` verb, each with its arguments (``add_parser``) and its handler
(``handle``); ``options`` holds the option groups several verbs share. ``edge.cli`` assembles them."""
