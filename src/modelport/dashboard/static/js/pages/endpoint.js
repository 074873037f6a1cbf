// The endpoint page: filled from the /v1 API by the dashboard core.
import { ready } from "../core/boot.js";
import { showState } from "../core/dom.js";

ready(async () => {
  showState(document.getElementById("page"), "info", "This page is being built.");
});
