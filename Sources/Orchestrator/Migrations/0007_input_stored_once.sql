-- A workflow's input is stored once, in `workflows.input`: the context no longer repeats it at
-- `input` (the engine puts it back when it loads the instance for a transition).
UPDATE orchestrator.workflows SET context = context - 'input' WHERE context ? 'input';
