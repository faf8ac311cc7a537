/* django_limpyd's admin-like pages: select every row of a list, and leave the
   empty inputs of the filter form out of its URL. No dependency. */
'use strict';
document.addEventListener('DOMContentLoaded', function() {
    const toggle = document.getElementById('action-toggle');
    if (toggle) {
        toggle.addEventListener('change', function() {
            document.querySelectorAll('#result_list input.action-select').forEach(function(box) {
                box.checked = toggle.checked;
                box.closest('tr').classList.toggle('selected', toggle.checked);
            });
        });
        document.querySelectorAll('#result_list input.action-select').forEach(function(box) {
            box.addEventListener('change', function() {
                box.closest('tr').classList.toggle('selected', box.checked);
            });
        });
    }
    const filters = document.getElementById('limpyd-filter-form');
    if (filters) {
        filters.addEventListener('submit', function() {
            filters.querySelectorAll('input[type=text], textarea').forEach(function(input) {
                if (!input.value) {
                    input.disabled = true;
                }
            });
        });
    }
});
