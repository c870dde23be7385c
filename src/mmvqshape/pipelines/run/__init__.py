"""A run folder and what a command needs from it, one module per job.

- :mod:`.folder` — the folder's layout and reading a run back (:func:`~.folder.read_run`,
  :func:`~.folder.find_checkpoint`): ``evaluate``, ``explain``, ``tokenize``;
- :mod:`.prepare` — checking and clearing the folder before ``train`` writes it, in the one
  process that may (DDP ranks);
- :mod:`.inputs` — the data and text a run trains and is scored on;
- :mod:`.weights` — the pre-trained VQShape weights ``--init`` starts from.
"""
