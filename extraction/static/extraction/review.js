// The review workstation's keys: Alt+<letter> presses the control marked data-review-key="Key<letter>".
// event.code (the physical key) rather than event.key, which Alt turns into other characters on macOS.
"use strict";

document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.repeat) {
        return;
    }
    const control = document.querySelector(`[data-review-key="${event.code}"]`);
    if (control === null) {
        return;
    }
    event.preventDefault();
    const form = control.closest("form");
    if (form !== null && form.dataset.submitting === "yes") {
        return; // one save per page, however often the key is pressed
    }
    if (form !== null && control.type === "submit") {
        form.dataset.submitting = "yes";
    }
    control.click();
});

document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("review-form");
    if (form === null) {
        return;
    }
    form.addEventListener("submit", () => {
        form.dataset.submitting = "yes";
    });
    // Back to this page from the browser's history: it may be sent again.
    window.addEventListener("pageshow", () => {
        delete form.dataset.submitting;
    });
    // Start where the work is: the first field with an error, else the intent.
    const first = form.querySelector(".review-field.errors input, .review-field.errors select")
        || form.querySelector("select[name=intent]");
    if (first !== null) {
        first.focus();
    }
});
