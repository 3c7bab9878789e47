"""The abstract interpreter that writes the model story (:mod:`featlint.analysis.story`), by concern:

* :mod:`.values` and :mod:`.frame`: the abstract values (a model and a path inside it, parameters, an
  optimizer...) and where the interpreter stands (scope, names, conditions, loops, grad mode);
* :mod:`.recorder`: the shared state and how models and events are recorded;
* :mod:`.statements`: blocks, loops, `with`; :mod:`.branches`: `if` (decided tests followed under an
  assumption, undecided ones both ways); :mod:`.merging`: joining what two branches left;
* :mod:`.assignments`: names bound, `requires_grad` set, layers and models stored into a model;
* :mod:`.expressions`: names, attributes, subscripts, comprehensions, and the dispatch of calls;
* :mod:`.methods`: methods of known values (a model's `.to`, `.eval`, `.requires_grad_`, `load_state_dict`...);
* :mod:`.library_calls`: library functions by name (builders, optimizers, layers, wrappers, `nn.init`);
* :mod:`.hub_calls`: timm, transformers and PEFT (models built, `reset_classifier`, adapters wrapped);
* :mod:`.lightning`: a Lightning `Trainer.fit(module)` runs the module's `configure_optimizers`;
* :mod:`.invocations`: the file's own functions and classes; :mod:`.lifetimes`: which optimizers outlive the
  call that built them.

:mod:`featlint.analysis.interpreter` puts the parts together and is the entry the rest of featlint uses.
"""
